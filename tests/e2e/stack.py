"""The whole product as `make run` starts it, for the end-to-end tests: the run command's
processes on free ports with a fresh data directory, and the HTTP steps its users take."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import httpx

from bench.stack import free_port
from tests.e2e.test_run_command import ROOT

PASSWORD = "orchard-lantern-quarry-42"
OPERATOR = "ops@program.example"
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


class Stack:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.temporal_port, self.ui_port, self.api_port = free_port(), free_port(), free_port()
        self.env = {
            **os.environ,
            "CASHBACK_DATA_DIR": str(data_dir),
            "CASHBACK_SMTP_PORT": str(free_port()),
            "CASHBACK_PUBLIC_BASE_URL": f"http://127.0.0.1:{self.api_port}",
            "CASHBACK_POLICY__RETURN_WINDOW_DAYS": "0",  # R15 shortened: pay at once
            "CASHBACK_DEMO_DATA": "false",
            # These tests follow claims, secrets and processes through the stack with the bank
            # that answers each payment at once (TECH as an activity's retry, no pain.001 file
            # holding IBANs); `make run`'s payment runs are tests/e2e/test_run_command.py's.
            "CASHBACK_PAYMENT_GATEWAY": "simulated",
            # The Web UI on its free port calls the codec with the operator's session cookie.
            "CASHBACK_CODEC_CORS_ORIGINS": json.dumps([f"http://127.0.0.1:{self.ui_port}"]),
        }
        self.api = f"http://127.0.0.1:{self.api_port}"
        self.run_log = data_dir.parent / "run.log"
        self.process: subprocess.Popen[bytes] | None = None  # the run command, once started

    def start_worker(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "worker.py"],
            cwd=ROOT,
            env=self.env | {"CASHBACK_TEMPORAL_ADDRESS": f"127.0.0.1:{self.temporal_port}"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def mails(self) -> list[EmailMessage]:
        found = sorted((self.data_dir / "mail").glob("*.eml"))
        return [message_from_bytes(p.read_bytes(), policy=policy.default) for p in found]


@contextmanager
def running_stack(tmp_path: Path, **settings: str) -> Iterator[Stack]:
    """The run command's processes, with `settings` (CASHBACK_* variables) added to the
    embedded defaults; what it prints (the API's log among it) goes to `stack.run_log`, the
    worker's and the Temporal server's logs to data_dir."""
    stack = Stack(tmp_path / "var")
    stack.env |= settings
    with stack.run_log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "cashback.run", "--temporal-port", str(stack.temporal_port),
             "--ui-port", str(stack.ui_port), "--api-port", str(stack.api_port)],
            cwd=ROOT, env=stack.env, stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip
    stack.process = process
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and process.poll() is None:
            if b"Press Ctrl-C" in stack.run_log.read_bytes():
                break
            time.sleep(0.2)
        assert process.poll() is None, f"the run command stopped: {stack.run_log.read_text()}"
        yield stack
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def create_operator(stack: Stack) -> None:
    subprocess.run(
        [sys.executable, "-m", "api.cli", "create-operator", "--email", OPERATOR],
        cwd=ROOT, env=stack.env | {"CASHBACK_OPERATOR_PASSWORD": PASSWORD}, check=True,
    )  # fmt: skip


async def poll(http: httpx.AsyncClient, url: str, headers: dict[str, str], status: str) -> dict:  # type: ignore[type-arg]
    for _ in range(300):
        claim = (await http.get(url, headers=headers)).json()
        if claim["status"] == status:
            return claim  # type: ignore[no-any-return]
        await asyncio.sleep(0.1)
    raise AssertionError(f"claim still {claim['status']}, expected {status}")


async def sign_in(http: httpx.AsyncClient, email: str) -> dict[str, str]:
    token = await http.post("/auth/token", data={"username": email, "password": PASSWORD})
    assert token.status_code == 200, token.text
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


async def open_offer(
    http: httpx.AsyncClient,
    operator: dict[str, str],
    agreement: str,
    reseller_name: str,
    seller_id: str,
) -> str:
    """The operator publishes an offer for German resellers and imports the licensing record
    of `agreement` (20 new Office licences, sold 90 days ago by `reseller_name`, whose VAT id
    is `seller_id`: R8)."""
    now = datetime.now(UTC)
    offer = await http.post("/operator/offers", headers=operator, json={
        "name": "Office 2026 Cash Back",
        "criteria": {
            "sale_date_from": (now - timedelta(days=365)).date().isoformat(),
            "sale_date_to": now.date().isoformat(),
            "products": ["Office Professional"], "licence_types": ["new"],
            "customer_segments": ["commercial"], "countries": ["DE"],
        },
        "limits": {"min_per_customer": 5, "max_per_customer": 100},
        "claim_period": {"opens_at": (now - timedelta(days=1)).isoformat(),
                         "closes_at": (now + timedelta(days=30)).isoformat()},
        "rate_per_licence_minor_units": 1250, "currency": "EUR",
        "terms_version": "2026-01", "terms_text": "Terms and Conditions.",
    })  # fmt: skip
    assert offer.status_code == 201, offer.text
    sale_date = (now - timedelta(days=90)).date().isoformat()
    csv = (
        "agreement_number,customer_name,customer_segment,customer_country,reseller_name,"
        "seller_id,sale_date,product,licence_type,quantity\n"
        f"{agreement},Fabrikam AG,commercial,DE,{reseller_name},{seller_id},{sale_date},"
        "Office Professional,new,20\n"
    )
    imported = await http.post(
        "/operator/licensing-records/import", headers=operator,
        files={"file": ("records.csv", csv.encode(), "text/csv")},
    )  # fmt: skip
    assert imported.status_code == 200, imported.text
    offer_id: str = offer.json()["offer_id"]
    return offer_id


async def register(
    http: httpx.AsyncClient, stack: Stack, company: str, email: str, vat_id: str
) -> dict[str, str]:
    """R1: a German reseller registers, confirms its address with the link the e-mail (in the
    stack's mail folder) brings, and an operator approves it on the command line; its bearer
    header."""
    registered = await http.post("/auth/register", json={
        "company_name": company, "country": "DE", "language": "de",
        "email": email, "password": PASSWORD, "vat_id": vat_id,
    })  # fmt: skip
    assert registered.status_code == 202, registered.text
    link = next(
        found.group(0)
        for message in stack.mails()
        if message["To"] == email
        and (found := re.search(r"http\S+/auth/confirm\?token=[\w-]+", _text(message)))
    )
    confirmed = await http.get(link.removeprefix(stack.api))
    assert confirmed.status_code == 200, confirmed.text
    reseller = await sign_in(http, email)
    reseller_id = (await http.get("/me", headers=reseller)).json()["reseller_id"]
    approve = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "api.cli", "approve-reseller", reseller_id, "--operator", OPERATOR,
        cwd=ROOT, env=stack.env, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    assert await approve.wait() == 0
    return reseller


def _text(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    content: str = body.get_content()
    return content


async def submit_claim(
    http: httpx.AsyncClient, reseller: dict[str, str], offer_id: str, agreement: str, company: str
) -> str:
    """R5, R6, D2: the reseller submits a claim for `agreement` (sold to Fabrikam AG) with its
    invoice and the offer's terms accepted; the claim's id, once it is under review (R7, R8)."""
    submitted = await http.post(
        "/claims", headers=reseller | {"Idempotency-Key": f"e2e-{agreement}"},
        data={"offer_id": offer_id, "agreement_number": agreement,
              "customer_name": "Fabrikam AG", "reseller_name": company,
              "terms_accepted_version": "2026-01"},
        files={"invoice": ("invoice.pdf", PDF, "application/pdf")},
    )  # fmt: skip
    assert submitted.status_code == 201, submitted.text
    claim_id: str = submitted.json()["claim_id"]
    await poll(http, f"/claims/{claim_id}", reseller, "UNDER_REVIEW")
    return claim_id


async def give_bank_details(stack: Stack, http: httpx.AsyncClient, iban: str) -> None:
    """R10, R13: the company's bank details on the page linked from the claim's e-mail."""
    for _ in range(100):
        requests = [m for m in stack.mails() if "/bank-details/" in _text(m)]
        if requests:
            break
        await asyncio.sleep(0.1)
    link = re.search(r"http://127\.0\.0\.1:\d+/bank-details/[\w-]+", _text(requests[0]))
    assert link is not None
    given = await http.post(link.group(0), data={
        "holder_name": "Contoso Software GmbH", "holder_type": "company",
        "iban": iban, "bic": "COBADEFFXXX",
    })  # fmt: skip
    assert given.status_code == 200, given.text
