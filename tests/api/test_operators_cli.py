"""R1: operators are created from the command line (`python -m api.cli create-operator`) and
then sign in like anyone else; a taken e-mail address is refused with a clear message."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from api.cli import PASSWORD_VARIABLE, CommandError, main, operator_password
from tests.api.harness import PASSWORD, Api

ROOT = Path(__file__).resolve().parents[2]


async def test_r1_the_cli_creates_an_operator_who_can_sign_in(
    api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """R1: the command, run as a process on the API's database (its data directory), creates
    an operator who signs in and reaches the operator endpoints; run again with the same
    address it exits non-zero and says the address is taken."""
    assert api.services.settings.data_dir == tmp_path
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith("CASHBACK_")
    }
    environment |= {"CASHBACK_DATA_DIR": str(tmp_path), PASSWORD_VARIABLE: PASSWORD}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "api.cli",
        "create-operator",
        "--email",
        "Olga.Operator@Program.example",
        cwd=ROOT,
        env=environment,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    assert "operator olga.operator@program.example created" in out.decode()

    token = await api.sign_in("olga.operator@program.example")
    headers = {"Authorization": f"Bearer {token}"}
    assert (await api.http.get("/me", headers=headers)).json()["role"] == "operator"
    assert (await api.http.get("/operator/review-queue", headers=headers)).status_code == 200

    for key in [key for key in os.environ if key.startswith("CASHBACK_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("CASHBACK_DATA_DIR", str(tmp_path))
    monkeypatch.setenv(PASSWORD_VARIABLE, PASSWORD)
    assert main(["create-operator", "--email", "olga.operator@program.example"]) == 1
    assert "olga.operator@program.example exists already" in capsys.readouterr().err


def test_r1_the_cli_refuses_bad_addresses_and_passwords(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """R1: an address that is none, a short password and a password typed differently twice
    are refused before anything is written."""
    monkeypatch.setenv(PASSWORD_VARIABLE, PASSWORD)
    assert main(["create-operator", "--email", "not-an-address"]) == 1
    assert "'not-an-address' is not an e-mail address" in capsys.readouterr().err

    monkeypatch.setenv(PASSWORD_VARIABLE, "short")
    with pytest.raises(CommandError, match="at least 12 characters"):
        operator_password()

    monkeypatch.delenv(PASSWORD_VARIABLE)
    typed = iter([PASSWORD, PASSWORD + "!"])
    with pytest.raises(CommandError, match="the two passwords differ"):
        operator_password(lambda _: next(typed))
    typed = iter([PASSWORD, PASSWORD])
    assert operator_password(lambda _: next(typed)) == PASSWORD
