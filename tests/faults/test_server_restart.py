"""The Temporal server killed and restarted (issue 6): no claim is lost or duplicated, and every
durable timer keeps its schedule (R9, R10, R14, R15, D3, D5).

The dev server runs as `make run` starts it, on a SQLite file; one `python worker.py` process.
Claims are brought into every state a claim can wait in or end in:

- waiting for the review deadline (R9; the automatic verdict approves when it fires),
- escalated at the deadline, waiting for an operator (R9; an operator rejects after the restart),
- awaiting bank details (R10; nobody answers: three notices, then cancelled),
- scheduled for payment, the payout timer of the return window pending (R15, R14),
- paid, rejected, cancelled (R12: an individual's account).

Then the server is SIGKILLed, stays down until the first pending timer is overdue (a notice's
answer time), and is started again on the same database file and port; the worker keeps running
(it reconnects). Every claim must end in its expected status with the status
changes of its path recorded once each (D3), one workflow per claim, one transfer and one
payments row per paid claim (D5), one e-mail per notice; and every timer pending at the kill
must fire when it was due (TimerStarted + its duration in the workflow history), or, if it was
due while the server was down, as soon as the server is back; within a generous tolerance of
TOLERANCE (the measured figures are printed).

The program's days are shortened (`time_scale`: a day lasts DAY_SECONDS). Larger runs:

    CASHBACK_FAULT_RESTART_CLAIMS=50 .venv/bin/pytest tests/faults/test_server_restart.py -s

    CASHBACK_FAULT_RESTART_CLAIMS       claims per state (default 5; 7 states)
    CASHBACK_FAULT_RESTART_DAY_SECONDS  a day of the program (default 2, or claims per state / 5)
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from temporalio.api.enums.v1 import EventType

from activities.records import TimelineEvent
from cashback.domain.payout import HolderType
from cashback.domain.policy import ProgramPolicy
from cashback.domain.status import ClaimStatus
from tests.faults.processes import SALE_DATE, FaultProgram, Seeded, gather_limited

pytestmark = [pytest.mark.faults, pytest.mark.e2e]

PER_STATE = int(os.environ.get("CASHBACK_FAULT_RESTART_CLAIMS", "5"))
# A day of the program, in seconds (2: 14 business days ~ 40 s, a notice 10 s); longer with more
# claims, so that the timers are still pending when the server is killed.
DAY_SECONDS = float(os.environ.get("CASHBACK_FAULT_RESTART_DAY_SECONDS", max(2.0, PER_STATE / 5)))
SCALE = DAY_SECONDS / 86_400
PAYOUT_IN_DAYS = 20  # the scheduled claims' return window ends then (R15): ~40 s
OVERDUE = timedelta(seconds=2)  # how long the first pending timer is overdue at the restart
MAX_OUTAGE = timedelta(seconds=max(20, 6 * DAY_SECONDS))
TOLERANCE = timedelta(seconds=10)  # generous: timers fire within a fraction of a second

S, R, A, P, C = (
    ClaimStatus.SUBMITTED,
    ClaimStatus.UNDER_REVIEW,
    ClaimStatus.AWAITING_BANK_DETAILS,
    ClaimStatus.SCHEDULED_FOR_PAYMENT,
    ClaimStatus.CANCELLED,
)
PAID_PATH = (S, R, A, P, ClaimStatus.PAID)
REJECTED_PATH = (S, R, ClaimStatus.REJECTED)
CANCELLED_PATH = (S, R, A, C)

Step = Callable[[FaultProgram, str], Awaitable[object]]


async def nothing(program: FaultProgram, claim_id: str) -> None:
    """The claim goes on by itself."""


async def under_review(program: FaultProgram, claim_id: str) -> None:
    await program.wait_for(claim_id, R)


async def approve(program: FaultProgram, claim_id: str) -> None:
    await program.approve(claim_id)
    await program.wait_for(claim_id, A)


async def approve_and_pay_later(program: FaultProgram, claim_id: str) -> None:
    await program.approve(claim_id)
    await program.give_bank_details(claim_id)
    await program.wait_for(claim_id, P)


async def approve_and_pay(program: FaultProgram, claim_id: str) -> None:
    await program.approve(claim_id)
    await program.give_bank_details(claim_id)
    await program.outcomes([claim_id], seconds=120)


async def reject(program: FaultProgram, claim_id: str) -> None:
    await program.reject(claim_id)
    await program.outcomes([claim_id], seconds=120)


async def individual_account(program: FaultProgram, claim_id: str) -> None:
    await program.approve(claim_id)
    await program.give_bank_details(claim_id, HolderType.INDIVIDUAL)
    await program.outcomes([claim_id], seconds=120)


async def escalated(program: FaultProgram, claim_id: str) -> None:
    await program.wait_for(claim_id, R, escalated=True)


async def operator_rejects(program: FaultProgram, claim_id: str) -> None:
    await program.reject(claim_id, escalated=True)


async def bank_details_after_deadline(program: FaultProgram, claim_id: str) -> None:
    """The review deadline approved the claim (R9): the reseller answers the request."""
    await program.wait_for(claim_id, A, seconds=60 + 30 * DAY_SECONDS)
    await program.give_bank_details(claim_id)


@dataclass(frozen=True)
class Group:
    """Claims brought into one state before the kill, and how they end after the restart."""

    name: str
    policy: ProgramPolicy
    before: Step
    holds: ClaimStatus  # at the kill
    after: Step
    path: tuple[ClaimStatus, ...]
    known: bool = True  # the licensing records know the agreement (R8: a conclusive verdict)


def groups(today: date) -> list[Group]:
    scaled = ProgramPolicy(time_scale=SCALE, return_window_days=0)
    # R15: the first payable day, PAYOUT_IN_DAYS from today, is the day after the return window
    window = (today + timedelta(days=PAYOUT_IN_DAYS) - SALE_DATE).days - 1
    later = ProgramPolicy(time_scale=SCALE, return_window_days=window)
    fast_review = ProgramPolicy(time_scale=0.05 / 86_400, return_window_days=0)  # R9 in ~1 s
    return [
        Group("paid", scaled, approve_and_pay, ClaimStatus.PAID, nothing, PAID_PATH),
        Group("rejected", scaled, reject, ClaimStatus.REJECTED, nothing, REJECTED_PATH),
        Group("cancelled", scaled, individual_account, C, nothing, CANCELLED_PATH),
        Group("escalated", fast_review, escalated, R, operator_rejects, REJECTED_PATH, False),
        Group("scheduled for payment", later, approve_and_pay_later, P, nothing, PAID_PATH),
        Group("review deadline", scaled, under_review, R, bank_details_after_deadline, PAID_PATH),
        # last, so that the kill finds their notices' timers young
        Group("awaiting bank details", scaled, approve, A, nothing, CANCELLED_PATH),
    ]


@dataclass(frozen=True)
class Timer:
    claim_id: str
    started: datetime
    due: datetime
    fired: datetime | None
    canceled: datetime | None

    def pending_at(self, instant: datetime) -> bool:
        ended = self.fired or self.canceled
        return self.started < instant and (ended is None or ended >= instant)


async def timers(program: FaultProgram, claim_id: str) -> list[Timer]:
    """Every durable timer of the claim's workflow, from its history."""
    history = await program.handle(claim_id).fetch_history()
    started: dict[str, tuple[datetime, timedelta]] = {}
    fired: dict[str, datetime] = {}
    canceled: dict[str, datetime] = {}
    for event in history.events:
        at = event.event_time.ToDatetime(tzinfo=UTC)
        if event.event_type == EventType.EVENT_TYPE_TIMER_STARTED:
            attributes = event.timer_started_event_attributes
            started[attributes.timer_id] = (at, attributes.start_to_fire_timeout.ToTimedelta())
        elif event.event_type == EventType.EVENT_TYPE_TIMER_FIRED:
            fired[event.timer_fired_event_attributes.timer_id] = at
        elif event.event_type == EventType.EVENT_TYPE_TIMER_CANCELED:
            canceled[event.timer_canceled_event_attributes.timer_id] = at
    return [
        Timer(claim_id, at, at + duration, fired.get(timer_id), canceled.get(timer_id))
        for timer_id, (at, duration) in started.items()
    ]


async def test_server_killed_and_restarted_loses_no_claim_and_keeps_every_timer(
    program: FaultProgram,
) -> None:
    """R9, R10, R14, R15, D3, D5: SIGKILL of the Temporal server with claims in every state;
    after the restart on the same file and port each claim ends as it would have, on time."""
    clock = time.monotonic()
    worker = program.start_worker()
    plan = groups(datetime.now(UTC).date())
    claims: dict[str, list[Seeded]] = {}
    for group in plan:  # one state after the other (their timers start fresh), a state at once
        claims[group.name] = program.seed(PER_STATE, group.policy, known_agreement=group.known)
        await program.submit(claims[group.name])
        await gather_limited([group.before(program, c.claim_id) for c in claims[group.name]])

    everyone = [c.claim_id for group in plan for c in claims[group.name]]
    expected = {c.claim_id: group for group in plan for c in claims[group.name]}
    at_kill = await gather_limited([program.state(claim) for claim in everyone])
    per_state = Counter(s.status.value + (" (escalated)" if s.escalated else "") for s in at_kill)
    misplaced = {
        s.claim_id: s.status.value
        for s in at_kill
        if s.status is not expected[s.claim_id].holds
        or (s.status is R and s.escalated != (expected[s.claim_id].name == "escalated"))
    }
    assert misplaced == {}, "the machine was too slow to have every state at the kill"
    # Down until the first notice's answer time has passed: some timers fall due meanwhile.
    respond_by = min(s.respond_by for s in at_kill if s.respond_by is not None)
    kill_started = time.monotonic()
    killed = datetime.now(UTC)
    program.server.kill()
    outage = min(respond_by + OVERDUE - killed, MAX_OUTAGE) / timedelta(seconds=1)
    await asyncio.sleep(max(outage, 0))
    restarted = datetime.now(UTC)
    program.server.start()
    program.client = await program.server.client()
    answering = datetime.now(UTC)
    downtime = time.monotonic() - kill_started
    worker_survived = worker.alive
    if not worker_survived:  # noted in the figures; the claims must still end
        worker = program.start_worker("worker-after-restart")

    await gather_limited(
        [group.after(program, c.claim_id) for group in plan for c in claims[group.name]]
    )
    outcomes = await program.outcomes(everyone, seconds=120 + 40 * DAY_SECONDS)
    elapsed = time.monotonic() - clock

    # None lost: every claim ended in the status of its path.
    lost = [
        claim
        for claim, outcome in outcomes.items()
        if outcome is None or outcome.status is not expected[claim].path[-1]
    ]
    # None duplicated: one workflow per claim, each status change and each notice once, one
    # transfer and one payments row per paid claim and none for the others.
    query = f'TaskQueue = "{program.settings.task_queue}"'
    workflows = Counter([w.id async for w in program.client.list_workflows(query)])
    wrong_paths = {
        claim: path
        for claim in everyone
        if (path := tuple(e.to_status for e in program.timeline(claim) if e.to_status))
        != expected[claim].path
    }
    repeated_entries = 0
    for claim in everyone:
        entries = [(e.event, e.to_status, e.reason) for e in program.timeline(claim)]
        repeated_entries += len(entries) - len(set(entries))
    transfers = Counter(c for c, _, outcome, _ in program.ledger() if outcome == "paid")
    payments = Counter(c for c, _, _, _ in program.payments())
    should_pay = {claim for claim in everyone if expected[claim].path == PAID_PATH}
    wrong_payments = [
        claim
        for claim in everyone
        if (transfers[claim], payments[claim]) != ((1, 1) if claim in should_pay else (0, 0))
    ]
    mails = program.mails_per_notice()
    duplicated = (
        sum(n - 1 for n in workflows.values())
        + repeated_entries
        + sum(max(0, n - 1) for n in transfers.values())
        + sum(max(0, n - 1) for n in payments.values())
        + sum(n - 1 for n in mails.values())
    )

    # Every timer pending at the kill fired when due, or right after the server came back.
    histories = await gather_limited([timers(program, claim) for claim in everyone])
    pending = [timer for found in histories for timer in found if timer.pending_at(killed)]
    fired = [t for t in pending if t.fired is not None]
    due_after = [(t.fired - t.due) for t in fired if t.fired and t.due >= restarted]
    due_while_down = [(t.fired - restarted) for t in fired if t.fired and t.due < restarted]
    unfinished = [t for t in pending if t.fired is None and t.canceled is None]

    def most(values: list[timedelta]) -> str:
        return f"{max(values).total_seconds():.2f}s" if values else "-"

    print(
        f"server restart: claims={len(everyone)} per state at the kill: "
        + ", ".join(f"{state}={n}" for state, n in sorted(per_state.items()))
    )
    print(
        f"server restart: down {downtime:.1f}s (from the kill until it answered again, "
        f"{(answering - restarted).total_seconds():.1f}s after it was started again), "
        f"worker survived={worker_survived}, "
        f"timers pending at the kill={len(pending)} (fired {len(fired)}, canceled by their "
        f"condition {len(pending) - len(fired) - len(unfinished)}, never ended "
        f"{len(unfinished)}); due after the restart: {len(due_after)}, max lateness "
        f"{most(due_after)}; due while the server was down: {len(due_while_down)}, fired at "
        f"most {most(due_while_down)} after the server was started again; lost={len(lost)} "
        f"duplicated={duplicated} elapsed={elapsed:.1f}s"
    )
    assert lost == [], {claim: outcomes[claim] for claim in lost}
    assert duplicated == 0
    assert sorted(workflows) == sorted(f"claim-{claim}" for claim in everyone)
    assert wrong_paths == {}
    assert wrong_payments == []
    assert "" not in mails, "every e-mail names its notice"
    assert unfinished == []
    assert len(pending) >= 3 * PER_STATE, "the review, notice and payout timers were pending"
    assert all(lateness <= TOLERANCE for lateness in due_after + due_while_down)
    automatic = [
        e.actor
        for claim in (c.claim_id for c in claims["review deadline"])
        for e in program.timeline(claim)
        if e.to_status is A
    ]
    assert set(automatic) == {"system"}, "R9: the deadline decided, after the restart"
    escalations = [
        e
        for claim in (c.claim_id for c in claims["escalated"])
        for e in program.timeline(claim)
        if e.event is TimelineEvent.REVIEW_ESCALATED
    ]
    assert len(escalations) == PER_STATE, "R9: each inconclusive claim escalated once"
    lapsed = {c.claim_id for c in claims["awaiting bank details"]}
    requests = Counter(key.split("/")[0] for key in mails if "/bank_details_request/" in key)
    assert all(requests[claim] == 3 for claim in lapsed), "R10: three notices, then cancelled"
