"""Claims that wait for a payment run (R14), and operators to prepare and release it."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
from sqlalchemy import select

from api.accounts import create_operator, issue_token
from cashback.claims import Decision, DecisionKind
from cashback.db.tables import Payment
from cashback.domain.status import ClaimStatus
from tests.api.claims_helpers import decide, new_agreement, submitted, wait_for_status
from tests.api.harness import PASSWORD, Api, Reseller, auth
from tests.api.test_bank_details_page import company_form, link_in


def another_operator(api: Api) -> dict[str, str]:
    """The bearer header of a second operator (four eyes)."""
    database = api.services.database
    user_id = create_operator(database, f"op2-{uuid.uuid4().hex[:6]}@program.example", PASSWORD)
    return auth(issue_token(database, user_id).access_token)


def queued_payment(api: Api, claim_id: str) -> Payment | None:
    with api.services.database.reading() as session:
        return session.scalar(
            select(Payment).where(Payment.claim_id == claim_id, Payment.queued_at.is_not(None))
        )


async def claim_in_the_queue(
    api: Api,
    reseller: Reseller | None = None,
    offer_id: str | None = None,
    iban: str = "DE02 1203 0000 0000 2020 51",
) -> tuple[Reseller, str]:
    """A claim approved, with valid details, whose payment order waits for a run."""
    reseller = reseller or await api.register()
    if offer_id is None:
        offer_id = (await api.create_offer())["offer_id"]
    agreement = new_agreement()
    api.add_licensing_record(
        agreement, reseller_name=reseller.company_name, seller_id=reseller.vat_id
    )
    claim_id = await submitted(api, reseller, offer_id, agreement)
    await wait_for_status(api, reseller, claim_id, ClaimStatus.UNDER_REVIEW)
    await decide(api, claim_id, Decision(kind=DecisionKind.APPROVE, operator="ops"))
    await wait_for_status(api, reseller, claim_id, ClaimStatus.AWAITING_BANK_DETAILS)
    for _ in range(100):  # the request e-mail follows the status change
        try:
            page = link_in(api, claim_id, "bank_details_request/1")
            break
        except KeyError:
            await asyncio.sleep(0.1)
    given = await api.http.post(
        page, data=company_form(iban=iban, holder_name=reseller.company_name)
    )
    assert given.status_code == 200, given.text
    await wait_for_status(api, reseller, claim_id, ClaimStatus.SCHEDULED_FOR_PAYMENT)
    for _ in range(200):
        payment = queued_payment(api, claim_id)
        if payment is not None and payment.task_token is not None:
            return reseller, claim_id
        await asyncio.sleep(0.1)
    raise AssertionError(f"the payment of {claim_id} was not queued for a run")


async def released_run(api: Api) -> dict[str, Any]:
    """A run of every queued order, prepared by one operator and released by another."""
    prepared = await api.http.post("/operator/payment-runs", headers=api.operator)
    assert prepared.status_code == 201, prepared.text
    run: dict[str, Any] = prepared.json()
    released = await api.http.post(
        f"/operator/payment-runs/{run['run_id']}/release", headers=another_operator(api)
    )
    assert released.status_code == 200, released.text
    released_run: dict[str, Any] = released.json()
    return released_run


def end_to_end_of(api: Api, claim_id: str) -> str:
    payment = queued_payment(api, claim_id)
    assert payment is not None
    assert payment.end_to_end_id is not None
    return payment.end_to_end_id


async def upload(api: Api, content: bytes, name: str = "answer.xml") -> httpx.Response:
    return await api.http.post(
        "/operator/bank-files",
        files={"file": (name, content, "application/xml")},
        headers=api.operator,
    )
