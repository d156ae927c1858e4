"""Verification of Payee (issue 14, part 3; R10, R11): before the first payment to bank details
judged valid, their bank checks the organisation's registered legal name against the account.
MTCH pays; CMTC and NMTC bring a correction request that counts as a notice; NOAP waits for a
verified operator's decision. The answer is on the timeline; the IBAN is nowhere."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError

from activities.records import TimelineEvent
from cashback.claims import BankDetailsSubmission, ClaimInput, PayeeDecision, PayeeDecisionKind
from cashback.domain.payee import PayeeAnswer, PayeeAnswerCode
from cashback.domain.payout import HolderType
from cashback.domain.status import ClaimStatus, NoticeKind
from tests.decisions import signed
from tests.workflows.claims import (
    APPROVE,
    COMPANY_DETAILS,
    RESELLER_NAME,
    Program,
    claim_input,
    licensing_record,
)
from tests.workflows.test_straight_through import patches_of
from workflows.claim import VERIFICATION_OF_PAYEE, ClaimWorkflow

IBAN = "DE02120300000000202051"  # the account the bank answers for, in each test
HELD_NAME = "Contoso Software Holding GmbH"
OPERATOR = "olga@program.example"
OTHER_DETAILS = COMPANY_DETAILS.model_copy(update={"reference": "bank-details-2"})


def answering(program: Program, answer: PayeeAnswer, reference: str = "bank-details-1") -> None:
    """The details under `reference` are the account `IBAN`, whose bank answers `answer`."""
    program.accounts.ibans[reference] = IBAN
    program.payee.answers[IBAN] = answer


async def approved_claim(program: Program) -> tuple[ClaimInput, WorkflowHandle[Any, Any]]:
    program.add_record(licensing_record())
    claim = claim_input()
    handle = await program.submit(claim)
    await program.wait_for(handle, ClaimStatus.UNDER_REVIEW)
    await program.decide(handle, APPROVE)
    await program.wait_for(handle, ClaimStatus.AWAITING_BANK_DETAILS)
    return claim, handle


def payee_entries(program: Program, claim: ClaimInput) -> list[tuple[TimelineEvent, str, str]]:
    payee_events = {
        TimelineEvent.PAYEE_VERIFIED,
        TimelineEvent.PAYEE_ESCALATED,
        TimelineEvent.PAYEE_DECIDED,
    }
    return [
        (e.event, e.actor, e.reason) for e in program.timeline_of(claim) if e.event in payee_events
    ]


def bank_notices(program: Program, claim: ClaimInput) -> list[tuple[NoticeKind, int | None]]:
    return [
        (n.kind, n.notification) for n in program.notices(claim) if n.kind.asks_for_bank_details
    ]


async def test_vop_r11_a_match_pays_and_the_timeline_records_it(program: Program) -> None:
    """VoP, R11: MTCH: the details are accepted and paid; the bank was asked about the
    organisation's registered legal name; the timeline records the answer; the history carries
    the patch."""
    claim, handle = await approved_claim(program)
    await program.give_bank_details(handle)

    assert (await program.outcome(handle)).status is ClaimStatus.PAID
    assert program.payee.asked == [RESELLER_NAME]
    assert payee_entries(program, claim) == [
        (
            TimelineEvent.PAYEE_VERIFIED,
            "system",
            "VoP: MTCH, the name matches the account holder's",
        )
    ]
    assert bank_notices(program, claim) == [(NoticeKind.BANK_DETAILS_REQUEST, 1)]
    assert VERIFICATION_OF_PAYEE in await patches_of(handle)


async def test_vop_r11_a_close_match_asks_for_a_correction_naming_the_banks_holder(
    program: Program,
) -> None:
    """VoP, R10, R11: CMTC: the next notice is a correction request (notice 2 of 3) telling the
    reseller the name the bank holds; other details that match are then paid."""
    answering(program, PayeeAnswer(code=PayeeAnswerCode.CLOSE_MATCH, held_name=HELD_NAME))
    claim, handle = await approved_claim(program)
    await program.give_bank_details(handle)
    state = await program.wait_for(handle, ClaimStatus.AWAITING_BANK_DETAILS, notices=4)

    correction = program.notices(claim)[-1]
    assert correction.kind is NoticeKind.CORRECTION_REQUEST
    assert correction.notification == 2
    assert correction.facts.payee_answer == PayeeAnswer(
        code=PayeeAnswerCode.CLOSE_MATCH, held_name=HELD_NAME
    )
    assert state.bank_details_reference is None  # not on file: not verified
    await program.give_bank_details(handle, OTHER_DETAILS)
    assert (await program.outcome(handle)).status is ClaimStatus.PAID
    [transfer] = program.bank.transfers_for(claim.claim_id)
    assert transfer.bank_details_ref == OTHER_DETAILS.reference
    assert [reason for _, _, reason in payee_entries(program, claim)] == [
        "VoP: CMTC, the name is close to the account holder's, but not the same "
        f'(the bank holds "{HELD_NAME}")',
        "VoP: MTCH, the name matches the account holder's",
    ]


async def test_vop_r10_r11_no_match_three_times_cancels_and_forfeits(program: Program) -> None:
    """VoP, R10, R11: NMTC counts like a name that differs: after the request and two
    correction requests, details the bank still does not match cancel the claim, forfeited."""
    answering(program, PayeeAnswer(code=PayeeAnswerCode.NO_MATCH))
    claim, handle = await approved_claim(program)
    for notices in (4, 5):
        await program.give_bank_details(handle)
        await program.wait_for(handle, ClaimStatus.AWAITING_BANK_DETAILS, notices=notices)
    await program.give_bank_details(handle)

    outcome = await program.outcome(handle)
    assert outcome.status is ClaimStatus.CANCELLED
    assert outcome.forfeited
    assert bank_notices(program, claim) == [
        (NoticeKind.BANK_DETAILS_REQUEST, 1),
        (NoticeKind.CORRECTION_REQUEST, 2),
        (NoticeKind.CORRECTION_REQUEST, 3),
    ]
    corrections = [n for n in program.notices(claim) if n.kind is NoticeKind.CORRECTION_REQUEST]
    assert {n.facts.payee_answer for n in corrections} == {
        PayeeAnswer(code=PayeeAnswerCode.NO_MATCH)
    }
    assert program.bank.transfers_for(claim.claim_id) == []
    assert outcome.reasons == ["R10: no valid bank details after notice 3; the funds are forfeited"]


async def not_possible(program: Program) -> tuple[ClaimInput, WorkflowHandle[Any, Any]]:
    """A claim whose details the bank cannot verify (NOAP), waiting for the operators."""
    answering(program, PayeeAnswer(code=PayeeAnswerCode.NOT_POSSIBLE))
    claim, handle = await approved_claim(program)
    await program.give_bank_details(handle)
    await program.wait_for(handle, ClaimStatus.AWAITING_BANK_DETAILS, notices=4)
    return claim, handle


async def test_vop_noap_waits_for_an_operator_who_pays_to_these_details(program: Program) -> None:
    """VoP NOAP: escalated (timeline, an operator notice), the claim waits, shown as waiting
    for a payee decision; a verified operator's decision to pay pays to these details, the
    timeline naming the operator."""
    claim, handle = await not_possible(program)
    state = await program.state(handle)
    assert state.awaiting_payee_decision
    assert state.waiting_for == "VoP: NOAP; waiting for an operator's decision on the payee"
    escalation = program.notices(claim)[-1]
    assert escalation.kind is NoticeKind.OPERATOR_ESCALATION
    assert escalation.facts.payee_answer == PayeeAnswer(code=PayeeAnswerCode.NOT_POSSIBLE)
    escalated = [e for e in program.timeline_of(claim) if e.event is TimelineEvent.PAYEE_ESCALATED]
    assert [e.projection.awaiting_payee_decision for e in escalated if e.projection] == [True]

    decided = await program.decide_payee(
        handle,
        PayeeDecision(
            kind=PayeeDecisionKind.PAY_TO_THESE_DETAILS,
            operator=OPERATOR,
            reason="the bank confirmed the holder by phone",
        ),
    )
    assert not decided.awaiting_payee_decision
    assert (await program.outcome(handle)).status is ClaimStatus.PAID
    [transfer] = program.bank.transfers_for(claim.claim_id)
    assert transfer.bank_details_ref == COMPANY_DETAILS.reference
    assert payee_entries(program, claim)[-1] == (
        TimelineEvent.PAYEE_DECIDED,
        OPERATOR,
        "VoP NOAP: decided to pay to these bank details: the bank confirmed the holder by phone",
    )


async def test_vop_r10_noap_an_operator_asks_for_other_details(program: Program) -> None:
    """VoP NOAP, R10: the operator asks for other details: a correction request (notice 2 of 3)
    telling the bank's answer; other details that match are paid."""
    claim, handle = await not_possible(program)
    await program.decide_payee(
        handle,
        PayeeDecision(kind=PayeeDecisionKind.ASK_FOR_OTHER_DETAILS, operator=OPERATOR),
    )
    await program.wait_for(handle, ClaimStatus.AWAITING_BANK_DETAILS, notices=5)
    assert bank_notices(program, claim) == [
        (NoticeKind.BANK_DETAILS_REQUEST, 1),
        (NoticeKind.CORRECTION_REQUEST, 2),
    ]
    assert program.notices(claim)[-1].facts.payee_answer == PayeeAnswer(
        code=PayeeAnswerCode.NOT_POSSIBLE
    )
    await program.give_bank_details(handle, OTHER_DETAILS)
    assert (await program.outcome(handle)).status is ClaimStatus.PAID
    [transfer] = program.bank.transfers_for(claim.claim_id)
    assert transfer.bank_details_ref == OTHER_DETAILS.reference


async def test_vop_d3_a_payee_decision_needs_a_verified_operator(program: Program) -> None:
    """VoP, D3: a payee decision typed without the program's signature is refused, as is one
    that names another operator than it was signed for; the claim keeps waiting. One before
    the bank's answer is refused too."""
    _, handle = await not_possible(program)
    typed = PayeeDecision(kind=PayeeDecisionKind.PAY_TO_THESE_DETAILS, operator=OPERATOR)
    with pytest.raises(WorkflowUpdateFailedError) as unsigned:
        await handle.execute_update(ClaimWorkflow.decide_payee, typed)
    assert "not signed by the program" in str(unsigned.value.cause)

    forged = signed(typed, handle.id.removeprefix("claim-")).model_copy(
        update={"operator": "mallory@program.example"}
    )
    with pytest.raises(WorkflowUpdateFailedError) as changed:
        await handle.execute_update(ClaimWorkflow.decide_payee, forged)
    assert "changed after it was signed" in str(changed.value.cause)
    assert (await program.state(handle)).awaiting_payee_decision


async def test_vop_a_payee_decision_is_refused_while_none_is_awaited(program: Program) -> None:
    """VoP: a signed payee decision for a claim that does not wait for one is refused."""
    _, handle = await approved_claim(program)
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await program.decide_payee(
            handle, PayeeDecision(kind=PayeeDecisionKind.PAY_TO_THESE_DETAILS, operator=OPERATOR)
        )
    assert "does not wait for a decision on its payee" in str(refused.value.cause)


async def test_vop_r10_standing_details_verified_before_are_not_asked_again(
    program: Program,
) -> None:
    """VoP, R10: details confirmed for all claims are verified before the first claim is paid
    to them; the next claim's timeline says they were verified before, and the bank is not
    asked again."""
    program.standing.by_reseller["reseller-7"] = COMPANY_DETAILS
    program.add_record(licensing_record("OL-1001"))
    program.add_record(licensing_record("OL-1002"))
    reasons = []
    for agreement in ("OL-1001", "OL-1002"):
        claim = claim_input(agreement)
        handle = await program.submit(claim)
        await program.wait_for(handle, ClaimStatus.UNDER_REVIEW)
        await program.decide(handle, APPROVE)
        assert (await program.outcome(handle)).status is ClaimStatus.PAID
        reasons += [reason for _, _, reason in payee_entries(program, claim)]

    assert program.payee.asked == [RESELLER_NAME]
    assert reasons == [
        "VoP: MTCH, the name matches the account holder's",
        "VoP: MTCH, the name matches the account holder's; verified before for these bank "
        "details, so the bank was not asked again",
    ]


async def test_vop_r10_r11_standing_details_the_bank_does_not_match_bring_a_correction(
    program: Program,
) -> None:
    """VoP, R10, R11: standing details the bank answers NMTC for are not used: the first
    notice is a correction request (notice 1 of 3) telling the bank's answer."""
    program.standing.by_reseller["reseller-7"] = COMPANY_DETAILS
    answering(program, PayeeAnswer(code=PayeeAnswerCode.NO_MATCH))
    claim, handle = await approved_claim(program)
    await program.wait_for(handle, ClaimStatus.AWAITING_BANK_DETAILS, notices=3)

    assert bank_notices(program, claim) == [(NoticeKind.CORRECTION_REQUEST, 1)]
    assert program.notices(claim)[-1].facts.payee_answer == PayeeAnswer(
        code=PayeeAnswerCode.NO_MATCH
    )
    await program.give_bank_details(handle, OTHER_DETAILS)
    assert (await program.outcome(handle)).status is ClaimStatus.PAID


async def test_vop_r13_neither_timeline_logs_nor_history_hold_the_iban(
    program: Program, caplog: pytest.LogCaptureFixture
) -> None:
    """VoP, R13: through a close match, a NOAP and the operator's decision, the IBAN is in no
    timeline entry, no log record, no notice and nowhere in the workflow's history (here
    without the payload codec, so the history is in the clear); the name the bank holds is."""
    caplog.set_level(logging.DEBUG)
    answering(program, PayeeAnswer(code=PayeeAnswerCode.CLOSE_MATCH, held_name=HELD_NAME))
    claim, handle = await approved_claim(program)
    await program.give_bank_details(handle)
    await program.wait_for(handle, ClaimStatus.AWAITING_BANK_DETAILS, notices=4)
    program.accounts.ibans[OTHER_DETAILS.reference] = IBAN
    program.payee.answers[IBAN] = PayeeAnswer(code=PayeeAnswerCode.NOT_POSSIBLE)
    await program.give_bank_details(handle, OTHER_DETAILS)
    await program.wait_for(handle, ClaimStatus.AWAITING_BANK_DETAILS, notices=5)
    await program.decide_payee(
        handle, PayeeDecision(kind=PayeeDecisionKind.PAY_TO_THESE_DETAILS, operator=OPERATOR)
    )
    assert (await program.outcome(handle)).status is ClaimStatus.PAID

    history = (await handle.fetch_history()).to_json()
    timeline = "\n".join(e.model_dump_json() for e in program.timeline_of(claim))
    notices = "\n".join(n.model_dump_json() for n in program.notices(claim))
    assert HELD_NAME in timeline  # the bank's answer is recorded: the search below is real
    spaced = " ".join(IBAN[i : i + 4] for i in range(0, len(IBAN), 4))
    for text in (history, timeline, notices, caplog.text):
        for form in (IBAN, spaced, IBAN[4:]):
            assert form not in text


async def test_vop_r11_details_of_another_name_are_not_verified(program: Program) -> None:
    """VoP, R11: details judged invalid (a name that differs) are not sent to the bank: the
    correction request is R11's, without a bank answer."""
    claim, handle = await approved_claim(program)
    await program.give_bank_details(
        handle,
        BankDetailsSubmission(
            reference="bank-details-x", holder_type=HolderType.COMPANY, holder_name="Other AG"
        ),
    )
    await program.wait_for(handle, ClaimStatus.AWAITING_BANK_DETAILS, notices=4)
    assert program.payee.asked == []
    correction = program.notices(claim)[-1]
    assert correction.kind is NoticeKind.CORRECTION_REQUEST
    assert correction.facts.payee_answer is None
