"""A demo's policy runs the program's waits faster (time_scale): with a day as one minute the
review window of 14 business days passes in the same fraction of its length, a notice gives
five minutes, and the dates the rules compute keep their meaning (R9, R10)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from cashback.domain.policy import ProgramPolicy
from cashback.domain.program_time import ProgramClock
from cashback.domain.status import ClaimStatus, NoticeKind
from tests.claim_waits import claim_outcome
from tests.workflows.claims import APPROVE, Program, claim_input, licensing_record

A_DAY_IN_A_MINUTE = ProgramPolicy(time_scale=1 / 1440)


async def test_r9_r10_a_demo_runs_the_review_and_the_notices_in_minutes(program: Program) -> None:
    """R9: the review window ends after (deadline - received) / 1440, then the eligible verdict
    applies; R10: three notices, five minutes each, then the claim is cancelled."""
    program.add_record(licensing_record())
    claim = claim_input(policy=A_DAY_IN_A_MINUTE)
    handle = await program.submit(claim)
    state = await program.wait_for(handle, ClaimStatus.UNDER_REVIEW)
    assert state.review_deadline is not None
    end_of_deadline = datetime.combine(state.review_deadline, time.min, tzinfo=UTC) + timedelta(
        days=1
    )
    review = (end_of_deadline - claim.received_at) / 1440
    assert review < timedelta(minutes=30)

    await program.fast_forward(handle, review - timedelta(minutes=1))
    assert (await program.state(handle)).status is ClaimStatus.UNDER_REVIEW
    await program.fast_forward(handle, timedelta(minutes=2))
    state = await program.wait_for(handle, ClaimStatus.AWAITING_BANK_DETAILS)
    request = state.notices[-1]
    assert request.kind is NoticeKind.BANK_DETAILS_REQUEST
    assert request.respond_by is not None
    assert request.respond_by - request.sent_at == timedelta(minutes=5)

    await program.fast_forward(handle, timedelta(minutes=16))
    outcome = await claim_outcome(handle)
    assert outcome.status is ClaimStatus.CANCELLED
    cancelled = program.status_changes(claim)[-1]
    assert cancelled.at - request.sent_at == pytest.approx(
        timedelta(minutes=15), abs=timedelta(seconds=30)
    )


async def test_r14_a_demos_dates_are_the_programs_days(program: Program) -> None:
    """R14: in a demo (a day in a minute), a claim approved ten minutes after it arrived is
    confirmed on the program's tenth day, and its 45 days run from there: the dates people
    read are the program's, not the wall clock's."""
    program.add_record(licensing_record())
    claim = claim_input(policy=A_DAY_IN_A_MINUTE)
    handle = await program.submit(claim)
    await program.wait_for(handle, ClaimStatus.UNDER_REVIEW)
    await program.fast_forward(handle, timedelta(minutes=10))
    await program.decide(handle, APPROVE)
    state = await program.wait_for(handle, ClaimStatus.AWAITING_BANK_DETAILS)
    assert state.final_confirmation_on is not None
    tenth_day = (claim.received_at + timedelta(days=10)).date()
    assert abs(state.final_confirmation_on - tenth_day) <= timedelta(days=1)
    assert state.final_confirmation_on > claim.received_at.date() + timedelta(days=5)
    assert state.payout_due == state.final_confirmation_on + timedelta(days=45)
    # R10: what the claim waits for (its timer's summary in the Web UI) is read in program
    # time too: five program days after the tenth day, not five minutes.
    assert state.respond_by is not None
    clock = ProgramClock(origin=claim.received_at, time_scale=A_DAY_IN_A_MINUTE.time_scale)
    respond_by = clock.shown(state.respond_by)
    assert respond_by - claim.received_at >= timedelta(days=15)
    assert f"bank details until {respond_by:%Y-%m-%d %H:%M} UTC" in state.waiting_for
    await handle.terminate("test done")
