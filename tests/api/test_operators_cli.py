"""R1: operators are created from the command line (`python -m api.cli create-operator`) and
then sign in like anyone else; a taken e-mail address is refused with a clear message."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from api.accounts import create_operator
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


async def test_r1_the_cli_lists_organisations_records_an_identifier_and_approves(
    api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """R1: on the API's database, the command lists the pending organisations with what an
    operator checks, records a partner id of an organisation, and approves it under a real
    operator account (a made-up one is refused); the organisation can claim then."""
    reseller = await api.register("Northwind Traders GmbH", approve=False)
    create_operator(api.services.database, "olga@program.example", PASSWORD)
    for key in [key for key in os.environ if key.startswith("CASHBACK_")]:
        monkeypatch.delenv(key)
    settings = api.services.settings
    monkeypatch.setenv("CASHBACK_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CASHBACK_SMTP_HOST", settings.smtp_host)
    monkeypatch.setenv("CASHBACK_SMTP_PORT", str(settings.smtp_port))

    assert main(["list-resellers", "--status", "pending"]) == 0
    listed = capsys.readouterr().out
    assert reseller.reseller_id in listed
    assert f"vat={reseller.vat_id}" in listed
    assert "domains=contoso.example" in listed

    made_up = ["approve-reseller", reseller.reseller_id, "--operator", "olga@elsewhere.example"]
    assert main(made_up) == 1
    assert "no operator's account" in capsys.readouterr().err
    identifier = ["set-reseller-identifier", reseller.reseller_id, "--country", "DE"]
    assert main([*identifier, "--partner-id", "4711-042"]) == 0
    approve = ["approve-reseller", reseller.reseller_id, "--operator", "olga@program.example"]
    assert main(approve) == 0
    assert "approved" in capsys.readouterr().out

    listed_after = await api.http.get("/operator/resellers", headers=api.operator)
    [row] = [
        row
        for row in listed_after.json()["organisations"]
        if row["reseller_id"] == reseller.reseller_id
    ]
    assert (row["status"], row["partner_id"], row["reviewed_by"]) == (
        "approved",
        "4711042",
        "olga@program.example",
    )
    assert (await api.http.get("/offers", headers=reseller.headers)).status_code == 200
