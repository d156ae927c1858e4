"""The read model: what people read of a claim is on its row, projected by its workflow's
activities. After every step of every path of the lifecycle the row says what the workflow's
`state` query says (D3, R8-R16); claims that ran before the read model get theirs once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from activities.records import ClaimProjection
from cashback.claims import ClaimState, claim_workflow_id
from cashback.db.tables import Claim
from cashback.domain.eligibility import Reason
from cashback.domain.money import Money
from cashback.domain.status import ClaimStatus
from cashback.projections import project_running_claims
from tests.api.claims_helpers import new_agreement, reject, submitted, wait_for_status
from tests.api.harness import Api, Reseller
from tests.api.test_bank_details_page import company_form, link_in
from workflows.claim import ClaimWorkflow


def projection_of(row: Claim) -> ClaimProjection:
    """The read model as the row holds it."""
    amount = (
        Money(minor_units=row.amount_minor_units, currency=row.currency)
        if row.amount_minor_units is not None and row.currency is not None
        else None
    )
    return ClaimProjection(
        status=row.status,
        review_deadline=row.review_deadline,
        verdict=row.verdict,
        verdict_reasons=tuple(Reason.model_validate(reason) for reason in row.verdict_reasons),
        eligible_licences=row.eligible_licences,
        escalated=row.escalated,
        awaiting_budget=row.awaiting_budget,
        decided_by=row.decided_by,
        amount=amount,
        final_confirmation_on=row.final_confirmation_on,
        respond_by=row.respond_by,
        payout_date=row.payout_date,
        payout_due=row.payout_due,
        payout_overdue=row.payout_overdue,
        paid_on=row.paid_on,
        bank_reference=row.bank_reference,
        bank_return_code=row.bank_return_code,
        outcome_reasons=tuple(row.outcome_reasons),
        bank_details_reference=row.bank_details_ref,
    )


async def matches_the_workflow(
    api: Api,
    claim_id: str,
    status: ClaimStatus,
    *,
    escalated: bool = False,
    asked: bool = False,
    overdue: bool = False,
) -> ClaimState:
    """Once the claim rests in `status` (escalated, having asked for bank details, or having
    flagged its payout overdue, if told), its row's read model equals the workflow's state
    (the record activity follows the state change within moments)."""
    handle = api.services.temporal.get_workflow_handle(claim_workflow_id(claim_id))
    state: ClaimState | None = None
    row_says: ClaimProjection | None = None
    try:
        async with asyncio.timeout(15):
            while True:
                state = await handle.query(ClaimWorkflow.state)
                with api.services.database.reading() as session:
                    row_says = projection_of(session.get_one(Claim, claim_id))
                rests = state.status is status and state.escalated is escalated
                rests = rests and (state.respond_by is not None or not asked)
                rests = rests and (state.payout_overdue or not overdue)
                if rests and row_says == state.projection():
                    return state
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(
            f"claim {claim_id} did not rest in {status} with its row equal to its state:\n"
            f"state {state.projection() if state else None}\nrow   {row_says}"
        ) from None


async def claim_under_review(
    api: Api, *, known: bool = True, **record: Any
) -> tuple[Reseller, str]:
    reseller = await api.register()
    offer = await api.create_offer()
    agreement = new_agreement()
    if known:
        api.add_licensing_record(agreement, seller_id=reseller.vat_id, **record)
    claim_id = await submitted(api, reseller, offer["offer_id"], agreement)
    await matches_the_workflow(api, claim_id, ClaimStatus.UNDER_REVIEW)
    return reseller, claim_id


async def approve(api: Api, claim_id: str) -> None:
    decided = await api.http.post(
        f"/operator/claims/{claim_id}/decision", json={"kind": "approve"}, headers=api.operator
    )
    assert decided.status_code == 200, decided.text


async def bank_details_page(api: Api, claim_id: str, notice: str) -> str:
    for _ in range(200):
        try:
            return link_in(api, claim_id, notice)
        except KeyError:
            await asyncio.sleep(0.05)
    raise AssertionError(f"no {notice} for claim {claim_id}")


async def test_d3_r14_paid_and_overdue_the_row_follows_every_step(api: Api) -> None:
    """R8, R9, R10, R14, R15: under review, approved (awaiting bank details, respond-by),
    scheduled (a sale 10 days ago: paid after the 60-day return window, later than the 45-day
    bound: overdue, R14), paid: the row says what the workflow says at every rest."""
    reseller, claim_id = await claim_under_review(
        api, sale_date=datetime.now(UTC).date() - timedelta(days=10)
    )
    await approve(api, claim_id)
    state = await matches_the_workflow(api, claim_id, ClaimStatus.AWAITING_BANK_DETAILS, asked=True)
    assert state.respond_by is not None
    page = await bank_details_page(api, claim_id, "bank_details_request/1")
    given = await api.http.post(page, data=company_form(holder_name=reseller.company_name))
    assert given.status_code == 200, given.text
    state = await matches_the_workflow(
        api, claim_id, ClaimStatus.SCHEDULED_FOR_PAYMENT, overdue=True
    )
    assert state.payout_overdue
    handle = api.services.temporal.get_workflow_handle(claim_workflow_id(claim_id))
    await api.env.fast_forward(handle, timedelta(days=51))
    state = await matches_the_workflow(api, claim_id, ClaimStatus.PAID)
    assert state.payment_reference is not None


async def test_d3_rejected_escalated_and_corrected_the_row_follows(api: Api) -> None:
    """R8: a rejection's reasons; R9: an unknown agreement escalated at the deadline; R11: a
    holder name that differs asks for a correction, then valid details: the row says what the
    workflow says at every rest."""
    _, rejected = await claim_under_review(api)
    await reject(api, rejected, "R2: sold before the offer's sale window")
    state = await matches_the_workflow(api, rejected, ClaimStatus.REJECTED)
    assert state.outcome_reasons == ["R2: sold before the offer's sale window"]

    _, escalated = await claim_under_review(api, known=False)
    handle = api.services.temporal.get_workflow_handle(claim_workflow_id(escalated))
    await api.env.fast_forward(handle, timedelta(days=30))  # R9: 14 business days and holidays
    state = await matches_the_workflow(api, escalated, ClaimStatus.UNDER_REVIEW, escalated=True)
    assert state.escalated

    reseller, corrected = await claim_under_review(api)
    await approve(api, corrected)
    page = await bank_details_page(api, corrected, "bank_details_request/1")
    wrong = await api.http.post(page, data=company_form(holder_name="Someone Else GmbH"))
    assert wrong.status_code == 200, wrong.text
    page = await bank_details_page(api, corrected, "correction_request/1")
    await matches_the_workflow(api, corrected, ClaimStatus.AWAITING_BANK_DETAILS, asked=True)
    right = await api.http.post(page, data=company_form(holder_name=reseller.company_name))
    assert right.status_code == 200, right.text
    await matches_the_workflow(api, corrected, ClaimStatus.PAID)


async def test_r12_an_individuals_account_cancels_and_the_row_follows(api: Api) -> None:
    """R12: an individual's bank details cancel the claim; the row says so, with the reason."""
    _, claim_id = await claim_under_review(api)
    await approve(api, claim_id)
    page = await bank_details_page(api, claim_id, "bank_details_request/1")
    given = await api.http.post(page, data=company_form(holder_type="individual"))
    assert given.status_code == 200, given.text
    state = await matches_the_workflow(api, claim_id, ClaimStatus.CANCELLED)
    assert any("R12" in reason for reason in state.outcome_reasons)


async def test_claims_running_before_the_read_model_get_it_once(api: Api) -> None:
    """A claim whose row has no read model yet (it ran before there was one) gets it from its
    workflow's state, once, by `python -m api.cli project-claims`'s service."""
    reseller, claim_id = await claim_under_review(api)
    with api.services.database.transaction() as session:
        row = session.get_one(Claim, claim_id)
        row.projected_sequence = 0
        row.verdict = None
        row.verdict_reasons = []
        row.review_deadline = None
    done = await project_running_claims(api.services.database, api.services.temporal)
    assert claim_id in done.projected
    await matches_the_workflow(api, claim_id, ClaimStatus.UNDER_REVIEW)
    page = await wait_for_status(api, reseller, claim_id, ClaimStatus.UNDER_REVIEW)
    assert page["deadlines"]["review_deadline"] is not None


pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

CLOSED_IBAN = "DE75512108001245126199"  # the simulated bank answers AC04 (account closed)


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"simulated_bank_behaviours": {CLOSED_IBAN: "AC04"}}


async def test_r10_no_bank_details_after_three_notices_cancels_and_the_row_follows(
    api: Api,
) -> None:
    """R10: three requests, five days each, no answer: cancelled and forfeited; the row follows
    each request's respond-by and the cancellation."""
    _, claim_id = await claim_under_review(api)
    await approve(api, claim_id)
    handle = api.services.temporal.get_workflow_handle(claim_workflow_id(claim_id))
    for notice in (1, 2, 3):
        await bank_details_page(api, claim_id, f"bank_details_request/{notice}")
        state = await matches_the_workflow(
            api, claim_id, ClaimStatus.AWAITING_BANK_DETAILS, asked=True
        )
        assert state.respond_by is not None
        await api.env.fast_forward(handle, timedelta(days=5, hours=1))
    state = await matches_the_workflow(api, claim_id, ClaimStatus.CANCELLED)
    assert any("R10" in reason for reason in state.outcome_reasons)


async def test_r16_a_payment_the_bank_returns_asks_again_and_the_row_follows(api: Api) -> None:
    """R16: the bank returns the payment (AC04): PAYMENT_FAILED with the return code and a new
    request; new details: paid. The row says what the workflow says at every rest."""
    reseller, claim_id = await claim_under_review(api)
    await approve(api, claim_id)
    page = await bank_details_page(api, claim_id, "bank_details_request/1")
    closed = company_form(iban=CLOSED_IBAN, holder_name=reseller.company_name)
    assert (await api.http.post(page, data=closed)).status_code == 200
    page = await bank_details_page(api, claim_id, "payment_failure/1")
    state = await matches_the_workflow(api, claim_id, ClaimStatus.PAYMENT_FAILED, asked=True)
    assert state.bank_return_code == "AC04"
    fixed = company_form(holder_name=reseller.company_name)
    assert (await api.http.post(page, data=fixed)).status_code == 200
    await matches_the_workflow(api, claim_id, ClaimStatus.PAID)
