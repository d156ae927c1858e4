"""Issue 12: the README's `curl` lines work as written. The fenced blocks of "The API from the
command line" run in bash against the run command's processes (the demo data added), with only
the API's address changed to the stack's: the demo reseller signs in with form fields, lists
the offers, submits a claim with a PDF and reads it; a new organisation registers."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.stack import PDF, running_stack
from tests.e2e.test_run_command import ROOT

pytestmark = pytest.mark.e2e

README_ADDRESS = "API=http://127.0.0.1:8000\n"


def readme_block(containing: str) -> str:
    """The README's fenced `sh` block that contains `containing`, exactly as written."""
    blocks = re.findall(r"^```sh\n(.*?)^```$", (ROOT / "README.md").read_text(), re.M | re.S)
    [block] = [block for block in blocks if containing in block]
    return str(block)


def run(script: str, cwd: Path) -> list[Any]:
    """Runs `script` in bash (any failing command fails it); the JSON documents it printed."""
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=cwd, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    decoder, text, found = json.JSONDecoder(), done.stdout.strip(), []
    while text:
        document, end = decoder.raw_decode(text)
        found.append(document)
        text = text[end:].lstrip()
    return found


def test_the_readme_walkthrough_runs_as_written(tmp_path: Path) -> None:
    journey = readme_block("/auth/token")
    registration = readme_block("/auth/register")
    assert journey.startswith(README_ADDRESS)
    (tmp_path / "invoice.pdf").write_bytes(PDF)
    with running_stack(tmp_path, CASHBACK_DEMO_DATA="true") as stack:
        address = f"API={stack.api}\n"
        offers, claim = run(journey.replace(README_ADDRESS, address, 1), tmp_path)
        [registered] = run(address + registration, tmp_path)
    assert {offer["offer_id"] for offer in offers["offers"]} == {"o_demo_office", "o_demo_windows"}
    assert claim["agreement_number"] == "OL-DEMO-1"
    assert claim["status"] in {"SUBMITTED", "UNDER_REVIEW"}
    assert set(registered) == {"message"}  # 202, the same for every address
    assert any("claims@northwind.example" in m["To"] for m in stack.mails())
