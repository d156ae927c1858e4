from __future__ import annotations

from datetime import timedelta

from cashback.domain.calendar import add_business_days
from cashback.domain.money import Money
from cashback.domain.status import ClaimStatus, NoticeKind
from tests.claim_waits import claim_outcome
from tests.workflows.claims import APPROVE, Program, claim_input, licensing_record, today


async def test_r7_r8_r10_r14_d3_approved_claim_is_paid(program: Program) -> None:
    """Happy path: preliminary confirmation (R7), verdict (R8), approval, bank details (R10),
    payout (R14), every status change on the timeline (D3)."""
    program.add_record(licensing_record())
    claim = claim_input()
    handle = await program.submit(claim)

    state = await program.wait_for(handle, ClaimStatus.UNDER_REVIEW)
    assert state.review_deadline == add_business_days(today(), 14, "DE")
    assert program.kinds(claim) == [NoticeKind.PRELIMINARY_CONFIRMATION]

    state = await program.decide(handle, APPROVE)
    assert state.status is ClaimStatus.AWAITING_BANK_DETAILS
    assert state.amount == Money(minor_units=20 * 1250, currency="EUR")
    assert state.payout_due == today() + timedelta(days=45)

    await program.wait_for(handle, ClaimStatus.AWAITING_BANK_DETAILS)
    await program.give_bank_details(handle)
    outcome = await claim_outcome(handle)

    assert outcome.status is ClaimStatus.PAID
    assert outcome.paid_on == today()
    assert [t.minor_units for t in program.bank.transfers_for(claim.claim_id)] == [25_000]
    assert program.statuses(claim) == [
        ClaimStatus.SUBMITTED,
        ClaimStatus.UNDER_REVIEW,
        ClaimStatus.AWAITING_BANK_DETAILS,
        ClaimStatus.SCHEDULED_FOR_PAYMENT,
        ClaimStatus.PAID,
    ]
