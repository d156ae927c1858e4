"""Issue 12, "A newcomer and an operator get through without help", on one stack as `make run`
starts it with its demo data (the simulated bank answering TECH for one IBAN):

- the README's `curl` lines work as written: its fenced blocks run in bash with only the API's
  address changed; the demo reseller signs in with form fields, lists the offers, submits a
  claim with a PDF and reads it; a new organisation registers;
- the worker's log is fit for operations: when the bank answers TECH (transient, retried by
  Temporal) it writes one WARNING line naming the claim, the activity, the attempt and the
  code, and no traceback."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.demo_data import DEMO_PASSWORD, OPERATOR_EMAIL, RESELLER_EMAIL, RESELLER_NAME
from tests.e2e.stack import PDF, Stack, give_bank_details, poll, running_stack
from tests.e2e.test_run_command import ROOT

pytestmark = pytest.mark.e2e

README_ADDRESS = "API=http://127.0.0.1:8000\n"
TECH_IBAN = "DE89 3704 0044 0532 0130 00"


@pytest.fixture(scope="module")
def demo_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    behaviours = json.dumps({TECH_IBAN.replace(" ", ""): "TECH"})
    with running_stack(
        tmp_path_factory.mktemp("stack"),
        CASHBACK_DEMO_DATA="true",
        CASHBACK_SIMULATED_BANK_BEHAVIOURS=behaviours,
    ) as stack:
        yield stack


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


def test_the_readme_walkthrough_runs_as_written(demo_stack: Stack, tmp_path: Path) -> None:
    journey = readme_block("/auth/token")
    registration = readme_block("/auth/register")
    assert journey.startswith(README_ADDRESS)
    (tmp_path / "invoice.pdf").write_bytes(PDF)
    address = f"API={demo_stack.api}\n"
    offers, claim = run(journey.replace(README_ADDRESS, address, 1), tmp_path)
    [registered] = run(address + registration, tmp_path)
    assert {offer["offer_id"] for offer in offers["offers"]} == {"o_demo_office", "o_demo_windows"}
    assert claim["agreement_number"] == "OL-DEMO-1"
    assert claim["status"] in {"SUBMITTED", "UNDER_REVIEW"}
    assert set(registered) == {"message"}  # 202, the same for every address
    assert any("claims@northwind.example" in m["To"] for m in demo_stack.mails())


async def _sign_in(http: httpx.AsyncClient, email: str) -> dict[str, str]:
    token = await http.post("/auth/token", data={"username": email, "password": DEMO_PASSWORD})
    assert token.status_code == 200, token.text
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


async def test_a_tech_answer_of_the_bank_is_one_warning_line_with_the_claim(
    demo_stack: Stack,
) -> None:
    async with httpx.AsyncClient(base_url=demo_stack.api, timeout=30) as http:
        reseller = await _sign_in(http, RESELLER_EMAIL)
        operator = await _sign_in(http, OPERATOR_EMAIL)
        submitted = await http.post(
            "/claims", headers=reseller | {"Idempotency-Key": "e2e-tech-OL-DEMO-3"},
            data={"offer_id": "o_demo_office", "agreement_number": "OL-DEMO-3",
                  "customer_name": "Fabrikam 3 AG", "reseller_name": RESELLER_NAME,
                  "terms_accepted_version": "2026-01"},
            files={"invoice": ("invoice.pdf", PDF, "application/pdf")},
        )  # fmt: skip
        assert submitted.status_code == 201, submitted.text
        claim_id = submitted.json()["claim_id"]
        await poll(http, f"/claims/{claim_id}", reseller, "UNDER_REVIEW")
        decided = await http.post(
            f"/operator/claims/{claim_id}/decision", headers=operator, json={"kind": "approve"}
        )
        assert decided.status_code == 200, decided.text
        await poll(http, f"/claims/{claim_id}", reseller, "AWAITING_BANK_DETAILS")
        await give_bank_details(demo_stack, http, TECH_IBAN)
    worker_log = demo_stack.data_dir / "worker.log"
    expected = f"claim={claim_id} activity payments.pay failed on attempt 1 with TECH"
    for _ in range(100):
        if expected in worker_log.read_text():
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(1)  # whatever else the failure would have written
    lines = worker_log.read_text().splitlines()
    about_the_claim = [line for line in lines if f"claim={claim_id} " in line]
    warnings = [line for line in about_the_claim if " WARNING " in line]
    assert [line for line in warnings if "attempt 1 " in line] == [
        f"{line[:23]} WARNING temporalio.activity {expected}; Temporal retries it"
        for line in lines
        if expected in line
    ], lines
    assert not [line for line in lines if "Traceback" in line or "TransientBankError" in line]
    assert TECH_IBAN.replace(" ", "") not in "\n".join(lines)
