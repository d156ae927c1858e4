"""Verification of Payee over HTTP (issue 14, part 3; R11, D3): valid company details given
on the secure page are checked by the (simulated) bank before the first payment, through the
real activity, the encrypted store and the database. A payee the bank cannot verify (NOAP)
waits for the operators: their list shows it, and a signed-in operator's decision pays or asks
for other details; a reseller cannot decide, a claim that does not wait refuses."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from activities.records import TimelineEvent
from cashback.db.tables import Claim, PayeeVerificationRow, TimelineRow
from cashback.domain.status import ClaimStatus
from tests.api.harness import Api, auth
from tests.api.test_bank_details_page import (
    IBAN,
    claim_awaiting_bank_details,
    company_form,
    link_in,
    outcome_of,
)
from tests.integration.program import notices_of

pytestmark = [pytest.mark.workflow, pytest.mark.smtp]

OTHER_IBAN = "DE89 3704 0044 0532 0130 00"  # answers MTCH (not configured)


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """The simulated responder cannot verify the payee of `IBAN` (NOAP)."""
    return {"simulated_payee_answers": {IBAN: "NOAP"}}


async def awaiting_payee_decision(api: Api, claim_id: str, seconds: float = 10) -> Claim:
    """The claim's row once its read model shows that it waits for a payee decision."""
    async with asyncio.timeout(seconds):
        while True:
            with api.services.database.reading() as session:
                row = session.get_one(Claim, claim_id)
            if row.awaiting_payee_decision:
                return row
            await asyncio.sleep(0.05)


def timeline(api: Api, claim_id: str) -> list[tuple[TimelineEvent, str, str]]:
    with api.services.database.reading() as session:
        rows = (
            session.query(TimelineRow).filter_by(claim_id=claim_id).order_by(TimelineRow.sequence)
        )
        return [(row.event, row.actor, row.reason) for row in rows]


async def test_vop_r11_d3_noap_an_operator_pays_to_these_details_through_http(api: Api) -> None:
    """VoP NOAP: the claim waits, listed with `awaiting_payee_decision`; a reseller is refused
    (403), an unknown kind is refused (422), the operator's decision to pay is taken (200),
    recorded under the operator's address, and the claim is paid; a second decision is
    refused (409) with the reason. The answer is remembered for the reference (the code
    only)."""
    awaiting = await claim_awaiting_bank_details(api)
    given = await api.http.post(awaiting.link, data=company_form())
    assert given.status_code == 200, given.text
    row = await awaiting_payee_decision(api, awaiting.claim_id)
    assert row.status is ClaimStatus.AWAITING_BANK_DETAILS

    listed = await api.http.get(
        "/operator/claims", params={"awaiting_payee_decision": "true"}, headers=api.operator
    )
    assert listed.status_code == 200, listed.text
    [item] = listed.json()["claims"]
    assert item["claim_id"] == awaiting.claim_id
    assert item["awaiting_payee_decision"] is True

    path = f"/operator/claims/{awaiting.claim_id}/payee-decision"
    as_reseller = await api.http.post(
        path, json={"kind": "pay_to_these_details"}, headers=auth(awaiting.reseller.token)
    )
    assert as_reseller.status_code == 403
    unknown = await api.http.post(path, json={"kind": "pay_anyway"}, headers=api.operator)
    assert unknown.status_code == 422

    decided = await api.http.post(
        path,
        json={"kind": "pay_to_these_details", "reason": "holder confirmed by the bank"},
        headers=api.operator,
    )
    assert decided.status_code == 200, decided.text
    assert decided.json()["awaiting_payee_decision"] is False
    assert (await outcome_of(awaiting)).status is ClaimStatus.PAID
    # The escalation mail follows the timeline entry that lists the claim: asked once it ended.
    assert "operator_escalation/1" in dict(notices_of(api.mailbox, awaiting.claim_id))

    again = await api.http.post(path, json={"kind": "pay_to_these_details"}, headers=api.operator)
    assert again.status_code == 409
    assert "does not wait for a decision on its payee" in again.json()["detail"]

    events = timeline(api, awaiting.claim_id)
    [(_, actor, reason)] = [e for e in events if e[0] is TimelineEvent.PAYEE_DECIDED]
    # D3: the signed-in operator's address (the harness's op-…@program.example), from the token
    assert actor.startswith("op-")
    assert actor.endswith("@program.example")
    assert reason == "VoP NOAP: decided to pay to these bank details: holder confirmed by the bank"
    assert [e[2] for e in events if e[0] is TimelineEvent.PAYEE_VERIFIED] == [
        "VoP: NOAP, the bank could not verify the payee"
    ]
    with api.services.database.reading() as session:
        [remembered] = session.query(PayeeVerificationRow).all()
    assert remembered.code == "NOAP"
    assert remembered.checked_name == awaiting.reseller.company_name


async def test_vop_r10_noap_an_operator_asks_for_other_details_through_http(api: Api) -> None:
    """VoP NOAP, R10: the operator asks for other details: the reseller gets a correction
    request (notice 2 of 3) with a new link; other details the bank matches are paid."""
    awaiting = await claim_awaiting_bank_details(api, language="en")
    assert (await api.http.post(awaiting.link, data=company_form())).status_code == 200
    await awaiting_payee_decision(api, awaiting.claim_id)

    decided = await api.http.post(
        f"/operator/claims/{awaiting.claim_id}/payee-decision",
        json={"kind": "ask_for_other_details"},
        headers=api.operator,
    )
    assert decided.status_code == 200, decided.text
    await awaiting.program.wait_for(awaiting.handle, ClaimStatus.AWAITING_BANK_DETAILS, notices=5)
    mails = dict(notices_of(api.mailbox, awaiting.claim_id))
    correction = mails["correction_request/1"].part("plain")
    assert "could not verify the name of the account holder" in correction
    assert IBAN.replace(" ", "") not in correction.replace(" ", "")
    link = link_in(api, awaiting.claim_id, "correction_request/1")
    assert (await api.http.post(link, data=company_form(OTHER_IBAN))).status_code == 200
    assert (await outcome_of(awaiting)).status is ClaimStatus.PAID
