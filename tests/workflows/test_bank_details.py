"""The bank-details loop (R10-R12): notices 1, 2, 3, five days each; valid details, an
individual's account, a name that differs, or nothing at all."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from temporalio.client import WorkflowHandle
from temporalio.service import RPCError

from cashback.claims import BankDetailsSubmission
from cashback.domain.payout import BankDetailsJudgement, HolderType
from cashback.domain.status import ClaimStatus, NoticeKind
from tests.claim_waits import claim_outcome
from tests.workflows.claims import (
    APPROVE,
    COMPANY_DETAILS,
    RESELLER_NAME,
    Program,
    claim_input,
    licensing_record,
)

FIVE_DAYS = timedelta(days=5)


async def approved_claim(program: Program) -> tuple[Any, WorkflowHandle[Any, Any]]:
    program.add_record(licensing_record())
    claim = claim_input()
    handle = await program.submit(claim)
    await program.wait_for(handle, ClaimStatus.UNDER_REVIEW)
    await program.decide(handle, APPROVE)
    await program.wait_for(handle, ClaimStatus.AWAITING_BANK_DETAILS)
    return claim, handle


def bank_notices(program: Program, claim: Any) -> list[tuple[NoticeKind, int]]:
    return [(n.kind, n.number) for n in program.notices(claim) if n.kind.asks_for_bank_details]


async def test_r10_bank_details_on_notice_1_lead_to_payment(program: Program) -> None:
    """R10: the first request asks for details within 5 days; details given then are valid
    (R11: a company named like the reseller) and the claim is paid."""
    claim, handle = await approved_claim(program)
    state = await program.state(handle)
    request = program.notices(claim)[-1]
    assert request.kind is NoticeKind.BANK_DETAILS_REQUEST
    assert request.respond_by is not None
    assert request.respond_by - state.notices[-1].sent_at == FIVE_DAYS
    assert state.respond_by == request.respond_by

    assert await program.give_bank_details(handle) is BankDetailsJudgement.VALID
    outcome = await claim_outcome(handle)
    assert outcome.status is ClaimStatus.PAID
    assert bank_notices(program, claim) == [(NoticeKind.BANK_DETAILS_REQUEST, 1)]


async def test_r10_bank_details_on_notice_3_still_count(program: Program) -> None:
    """R10: no answer to notices 1 and 2: notice 2 goes out 5 days after notice 1, notice 3
    five days later; details given on notice 3 are accepted."""
    claim, handle = await approved_claim(program)
    first = (await program.state(handle)).notices[-1]

    await program.fast_forward(handle, FIVE_DAYS + timedelta(minutes=1))
    await program.wait_for(handle, ClaimStatus.AWAITING_BANK_DETAILS, notices=4)
    await program.fast_forward(handle, FIVE_DAYS + timedelta(minutes=1))
    state = await program.wait_for(handle, ClaimStatus.AWAITING_BANK_DETAILS, notices=5)

    requests = [n for n in state.notices if n.kind is NoticeKind.BANK_DETAILS_REQUEST]
    assert [n.number for n in requests] == [1, 2, 3]
    assert [(n.notification, n.notifications_allowed) for n in program.notices(claim)[-3:]] == [
        (1, 3),
        (2, 3),
        (3, 3),
    ]
    assert requests[1].sent_at - first.sent_at == pytest.approx(
        FIVE_DAYS, abs=timedelta(seconds=90)
    )
    assert requests[2].sent_at - requests[1].sent_at == pytest.approx(
        FIVE_DAYS, abs=timedelta(seconds=90)
    )
    await program.give_bank_details(handle)
    assert (await claim_outcome(handle)).status is ClaimStatus.PAID


async def test_r10_no_bank_details_after_notice_3_cancels_on_day_15(program: Program) -> None:
    """R10: three notices without an answer: the claim is cancelled 15 days after the first
    notice (5 days after the third), the funds forfeited, the licences released (R3)."""
    claim, handle = await approved_claim(program)
    first = (await program.state(handle)).notices[-1]

    await program.fast_forward(handle, timedelta(days=20))
    outcome = await claim_outcome(handle)

    assert outcome.status is ClaimStatus.CANCELLED
    assert outcome.forfeited
    assert outcome.reasons == ["R10: no valid bank details after notice 3; the funds are forfeited"]
    assert bank_notices(program, claim) == [(NoticeKind.BANK_DETAILS_REQUEST, n) for n in (1, 2, 3)]
    cancelled = program.status_changes(claim)[-1]
    assert cancelled.to_status is ClaimStatus.CANCELLED
    assert cancelled.at - first.sent_at == pytest.approx(3 * FIVE_DAYS, abs=timedelta(seconds=90))
    assert program.kinds(claim)[-1] is NoticeKind.CANCELLATION
    assert claim.claim_id not in program.records.reservations

    with pytest.raises(RPCError, match="already completed"):
        await program.give_bank_details(handle)


async def test_r12_an_individuals_account_cancels_the_claim(program: Program) -> None:
    """R12: bank details of an individual instead of a company: the claim is cancelled."""
    claim, handle = await approved_claim(program)
    individual = BankDetailsSubmission(
        reference="bank-details-9", holder_type=HolderType.INDIVIDUAL, holder_name="Max Mustermann"
    )
    assert await program.give_bank_details(handle, individual) is (
        BankDetailsJudgement.INDIVIDUAL_ACCOUNT
    )
    outcome = await claim_outcome(handle)
    assert outcome.status is ClaimStatus.CANCELLED
    assert outcome.reasons[0].startswith("R12:")
    assert program.bank.transfers_for(claim.claim_id) == []


async def test_r11_name_mismatch_asks_for_a_correction_then_pays(program: Program) -> None:
    """R11: a holder name that differs from the reseller's is invalid: a correction request goes
    out at once (it counts as notification 2, R10) and the corrected details are paid."""
    claim, handle = await approved_claim(program)
    other_name = BankDetailsSubmission(
        reference="bank-details-2", holder_type=HolderType.COMPANY, holder_name="Contoso Ltd"
    )
    assert await program.give_bank_details(handle, other_name) is (
        BankDetailsJudgement.NAME_MISMATCH
    )
    state = await program.wait_for(handle, ClaimStatus.AWAITING_BANK_DETAILS, notices=4)
    assert bank_notices(program, claim) == [
        (NoticeKind.BANK_DETAILS_REQUEST, 1),
        (NoticeKind.CORRECTION_REQUEST, 1),
    ]
    assert state.last_bank_details_judgement is BankDetailsJudgement.NAME_MISMATCH
    assert program.notices(claim)[-1].notification == 2  # the correction counts (R10)

    corrected = BankDetailsSubmission(
        reference="bank-details-3",
        holder_type=HolderType.COMPANY,
        holder_name=RESELLER_NAME.upper().replace(" ", "  "),
    )
    assert await program.give_bank_details(handle, corrected) is BankDetailsJudgement.VALID
    outcome = await claim_outcome(handle)
    assert outcome.status is ClaimStatus.PAID
    assert [t.bank_details_ref for t in program.bank.transfers_for(claim.claim_id)] == [
        "bank-details-3"
    ]


async def test_r10_r11_a_mismatch_after_notice_3_cancels(program: Program) -> None:
    """R10, R11: after the third notification there is no fourth: a name that still differs
    cancels the claim."""
    _, handle = await approved_claim(program)
    await program.fast_forward(handle, 2 * FIVE_DAYS + timedelta(minutes=1))
    await program.wait_for(handle, ClaimStatus.AWAITING_BANK_DETAILS, notices=5)
    wrong = COMPANY_DETAILS.model_copy(update={"holder_name": "Somebody Else GmbH"})
    await program.give_bank_details(handle, wrong)
    outcome = await claim_outcome(handle)
    assert outcome.status is ClaimStatus.CANCELLED
    assert outcome.reasons == ["R10: no valid bank details after notice 3; the funds are forfeited"]


async def test_r10_an_undeliverable_request_is_reported_to_operators(program: Program) -> None:
    """R10: a bank-details request the mail server refuses for good (550) does not stop the
    claim: the bounce is on the timeline, the operators are told, the 5-day wait goes on."""
    program.outbox.bouncing.add(NoticeKind.BANK_DETAILS_REQUEST)
    claim, handle = await approved_claim(program)
    state = await program.wait_for(handle, ClaimStatus.AWAITING_BANK_DETAILS)
    assert state.waiting_for.startswith("R10: notice 1 of 3")
    escalation = program.notices(claim)[-1]
    assert escalation.kind is NoticeKind.OPERATOR_ESCALATION
    assert escalation.facts.reasons == ("e-mail bank_details_request 1 could not be delivered",)
    assert escalation.facts.undelivered_notice == "bank_details_request 1"  # its own wording
    events = [entry.event.value for entry in program.timeline_of(claim)]
    assert "notice_undeliverable" in events
    await program.give_bank_details(handle)
    assert (await claim_outcome(handle)).status is ClaimStatus.PAID
