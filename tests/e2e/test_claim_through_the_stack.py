"""The whole product as `make run` starts it (Temporal dev server, worker, API, local mail, SQLite),
driven over HTTP as its users would: an operator publishes an offer and imports the licensing
records, a reseller registers and submits a claim, the operator approves it, the reseller gives
bank details on the secure page from the e-mail, and the claim is paid (R1-R14, D3)."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sqlite3
import time
from email.message import EmailMessage

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from cashback.config import Settings
from cashback.mail.smtp import NOTICE_HEADER
from cashback.wiring import data_converter
from tests.e2e.stack import (
    OPERATOR,
    Stack,
    create_operator,
    open_offer,
    poll,
    register,
    sign_in,
    submit_claim,
)
from worker import connect

pytestmark = pytest.mark.e2e


async def test_r1_r14_d3_a_claim_from_registration_to_paid(stack: Stack) -> None:
    """R1 register, R4 offer open, R5-R7 submission with invoice and preliminary confirmation,
    R8/R9 operator approval, R10/R13 bank details on the page linked from the e-mail, R14
    payout; D3 timeline; the claim is found in Temporal by its search attributes. The worker
    is killed while the claim waits for review, and the one `make run` starts again finishes
    it."""
    create_operator(stack)
    async with httpx.AsyncClient(base_url=stack.api, timeout=30) as http:
        operator = await sign_in(http, OPERATOR)
        company, vat_id = "Contoso Software GmbH", "DE136695976"
        offer_id = await open_offer(http, operator, "OL-E2E-1", company, vat_id)
        reseller = await register(http, stack, company, "claims@contoso.example", vat_id)
        offers = (await http.get("/offers", headers=reseller)).json()["offers"]
        assert [o["offer_id"] for o in offers] == [offer_id]

        claim_id = await submit_claim(http, reseller, offer_id, "OL-E2E-1", "Contoso Software GmbH")
        claim_url = f"/claims/{claim_id}"

        # The worker dies mid-claim (waiting for the review); the one the run command starts
        # again takes the claim on from where it stood.
        await poll(http, claim_url, reseller, "UNDER_REVIEW")
        os.kill(int((stack.data_dir / "worker.pid").read_text()), signal.SIGKILL)
        await read_without_a_worker(http, claim_id, reseller, operator)
        decided = await http.post(
            f"/operator/claims/{claim_id}/decision",
            headers=operator,
            json={"kind": "approve"},
        )
        assert decided.status_code == 200, decided.text
        await finish_the_claim(stack, http, claim_url, reseller)
        check_the_records(stack, claim_id)
        await check_metrics(stack, http)
    await check_visibility(stack, claim_id)


async def read_without_a_worker(
    http: httpx.AsyncClient, claim_id: str, reseller: dict[str, str], operator: dict[str, str]
) -> None:
    """The read model: with the worker dead (before the run command restarts it), the claim
    page, the operator's view and the review queue answer from the database, correctly and
    within a second each (a workflow query would wait for a worker)."""
    quick = httpx.Timeout(1.0)
    page = await http.get(f"/claims/{claim_id}", headers=reseller, timeout=quick)
    assert page.status_code == 200, page.text
    assert page.json()["status"] == "UNDER_REVIEW"
    assert page.json()["deadlines"]["review_deadline"] is not None
    view = await http.get(f"/operator/claims/{claim_id}", headers=operator, timeout=quick)
    assert view.json()["verdict"]["verdict"] == "eligible"
    queue = await http.get("/operator/review-queue", headers=operator, timeout=quick)
    assert [item["claim_id"] for item in queue.json()["claims"]] == [claim_id]


async def finish_the_claim(
    stack: Stack, http: httpx.AsyncClient, claim_url: str, reseller: dict[str, str]
) -> None:
    """R10, R13, R14: bank details on the page linked from the e-mail; the claim is paid."""
    await poll(http, claim_url, reseller, "AWAITING_BANK_DETAILS")

    for _ in range(100):
        requests = [m for m in stack.mails() if "/bank-details/" in m.as_string()]
        if requests:
            break
        await asyncio.sleep(0.1)
    body = requests[0].get_body(preferencelist=("plain",))
    assert body is not None
    link = re.search(r"http://127\.0\.0\.1:\d+/bank-details/[\w-]+", body.get_content())
    assert link is not None
    page = await http.get(link.group(0))
    assert page.status_code == 200
    given = await http.post(link.group(0), data={
        "holder_name": "Contoso Software GmbH", "holder_type": "company",
        "iban": "DE89 3704 0044 0532 0130 00", "bic": "COBADEFFXXX",
    })  # fmt: skip
    assert given.status_code == 200, given.text
    paid = await poll(http, claim_url, reseller, "PAID")
    assert paid["amount"] == {"minor_units": 25_000, "currency": "EUR"}


def check_the_records(stack: Stack, claim_id: str) -> None:
    """D3: the mails sent and the database timeline. The claim's notices, each once, to the
    reseller: preliminary (R7) and final confirmation (R9), the bank details request (R10),
    the remittance advice (R14); none went to the operators. The remittance advice follows the
    PAID status within moments (the workflow records the status, then mails)."""
    notices: dict[str, EmailMessage] = {}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        notices = {
            str(mail[NOTICE_HEADER]): mail
            for mail in stack.mails()
            if mail[NOTICE_HEADER] is not None
        }
        if f"{claim_id}/remittance_advice/1" in notices:
            break
        time.sleep(0.2)
    assert sorted(notices) == sorted(
        f"{claim_id}/{kind}/1"
        for kind in (
            "preliminary_confirmation",
            "final_confirmation",
            "bank_details_request",
            "remittance_advice",
        )
    )
    for key, mail in notices.items():
        assert str(mail["To"]) == "claims@contoso.example", key
        body = mail.get_body(preferencelist=("plain",))
        assert body is not None, key
        assert "OL-E2E-1" in body.get_content(), key
    remittance = notices[f"{claim_id}/remittance_advice/1"].get_body(preferencelist=("plain",))
    assert remittance is not None
    assert "250,00 EUR" in remittance.get_content()  # D6: the reseller reads German
    database = sqlite3.connect(stack.data_dir / "cashback.sqlite3")
    statuses = [row[0] for row in database.execute(
        "SELECT to_status FROM claim_timeline WHERE claim_id = ? AND to_status IS NOT NULL"
        " ORDER BY sequence", (claim_id,))]  # fmt: skip
    assert statuses == ["SUBMITTED", "UNDER_REVIEW", "AWAITING_BANK_DETAILS",
                        "SCHEDULED_FOR_PAYMENT", "PAID"]  # fmt: skip


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def check_metrics(stack: Stack, http: httpx.AsyncClient) -> None:
    """Issue 13: after the payout the API's /metrics counts the claim as PAID and its payment
    as paid, with no R9/R14 breach, and has timed the routes the users took (by template, the
    bank-details token never named); the worker's SDK metrics have counted its workflow tasks
    and activities."""
    api = _samples((await http.get("/metrics")).text)
    assert api[("cashback_claims", frozenset({("status", "PAID")}))] == 1
    assert api[("cashback_payments", frozenset({("outcome", "paid")}))] == 1
    assert sum(v for (n, _), v in api.items() if n == "cashback_sla_breaches") == 0
    routes = {
        dict(labels)["route"]
        for (name, labels), _ in api.items()
        if name == "cashback_http_request_duration_seconds_count"
    }
    assert {"/claims", "/claims/{claim_id}", "/bank-details/{token}"} <= routes
    assert not any("/bank-details/" in r and "{token}" not in r for r in routes)

    address = stack.env["CASHBACK_WORKER_METRICS_ADDRESS"]
    wanted = {
        "temporal_workflow_task_execution_latency_count",
        "temporal_activity_execution_latency_count",
        "temporal_workflow_completed_total",  # the workflow ends moments after the last mail
    }
    moved: set[str] = set()
    worker: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    async with httpx.AsyncClient(timeout=10) as scraper:
        for _ in range(50):
            worker = _samples((await scraper.get(f"http://{address}/metrics")).text)
            moved = {name for (name, _), value in worker.items() if value > 0 and name in wanted}
            if moved == wanted:
                break
            await asyncio.sleep(0.2)
    assert moved == wanted, " ".join(sorted({name for name, _ in worker}))


async def check_visibility(stack: Stack, claim_id: str) -> None:
    """The claim is found in Temporal by its search attributes."""
    settings = Settings(temporal_address=f"127.0.0.1:{stack.temporal_port}")
    client = await connect(settings.temporal_address, "default", data_converter(settings))
    query = 'ClaimStatus = "PAID" AND AgreementNumber = "OL-E2E-1"'
    for _ in range(50):
        found = [wf.id async for wf in client.list_workflows(query)]
        if found:
            break
        await asyncio.sleep(0.1)
    assert found == [f"claim-{claim_id}"]
