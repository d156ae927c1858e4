"""Budget races (D7), with the operations of each step really running at the same time, on
PostgreSQL and on SQLite.

A seeded randomized driver runs steps against one offer's budget; each step starts 2-6
operations on threads behind a barrier, each thread with its own sessions, through the real
code (`BudgetActivities` on `SqlBudgets`, `BudgetRepository.change_budget`):

- commit: a new claim's approval (1,000-20,000 minor units) against the budget;
- retry: the approval of a committed claim once more (an activity retry);
- pay and release: a committed claim's payout consumes it, a cancellation releases it;
- top up: an operator adds 5,000-20,000 to the budget.

The budget starts at 60,000, so approvals run short again and again. After every step the
invariant is checked against the database: committed + paid never exceed the budget; every
claim's commitment is in the state its operations left it (one row per claim, never committed
twice); committed + paid + released is exactly what was approved; and a refusal was justified
(the budget at the step's start, less what was committed and paid then and what others were
granted during the step, left no room for it).

A **trial** is one operation. The normal run does `CASHBACK_BUDGET_RACE_TRIALS` (default 100)
per database; the proof of issue 13 is 1,000 (`CASHBACK_BUDGET_RACE_TRIALS=1000`);
`CASHBACK_BUDGET_RACE_SEED` sets the seed. A failure prints the seed, the step and its
operations. Every test prints its counts.
"""

from __future__ import annotations

import os
import random
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import URL, make_url

from activities.budgets import BudgetActivities, BudgetAnswer, BudgetRequest
from cashback.db import Database, upgrade_to_head
from cashback.db.budgets import BudgetRepository, SqlBudgets
from cashback.db.tables import BudgetCommitment, Offer
from cashback.domain.budgets import CommitmentState
from cashback.domain.money import Money
from tests.db.seed import OFFER_ID, add_offer, add_reseller, new_claim

pytestmark = pytest.mark.security

TRIALS = int(os.environ.get("CASHBACK_BUDGET_RACE_TRIALS", "100"))
SEED = int(os.environ.get("CASHBACK_BUDGET_RACE_SEED", "20261207"))
FIRST_BUDGET = 60_000


@dataclass
class ModelClaim:
    claim_id: str
    amount: int
    state: CommitmentState | None = None  # None: nothing committed (new, or refused)


@dataclass(frozen=True)
class Op:
    kind: str  # commit, retry, pay, release, top_up
    claim: ModelClaim | None = None
    amount: int = 0


@dataclass
class Outcome:
    op: Op
    answer: BudgetAnswer | None = None
    error: str | None = None


@dataclass
class RaceReport:
    steps: int = 0
    operations: Counter[str] = field(default_factory=Counter)
    committed: int = 0
    refused: int = 0
    violations: list[str] = field(default_factory=list)

    def line(self, backend: str) -> str:
        return (
            f"{backend}: {sum(self.operations.values())} trials (concurrent operations: "
            f"{dict(sorted(self.operations.items()))}) in {self.steps} steps, each step "
            f"checked; {self.committed} approvals committed, {self.refused} refused for the "
            f"budget, {len(self.violations)} violations (seed {SEED})"
        )


class BudgetRace:
    def __init__(self, database: Database, trials: int, seed: int) -> None:
        self.database = database
        self.trials = trials
        self.random = random.Random(seed)
        self.activities = BudgetActivities(SqlBudgets(database))
        self.claims: dict[str, ModelClaim] = {}
        self.report = RaceReport()
        with database.transaction() as session:
            add_reseller(session)
            add_offer(session)
        with database.transaction() as session:
            BudgetRepository(session).change_budget(OFFER_ID, "olga", to=FIRST_BUDGET)

    def _ops(self) -> list[Op]:
        ops: list[Op] = []
        busy: set[str] = set()
        committed = [c for c in self.claims.values() if c.state is CommitmentState.COMMITTED]
        for _ in range(self.random.randint(2, 6)):
            kind = self.random.choices(
                ("commit", "retry", "pay", "release", "top_up"), (55, 5, 15, 15, 10)
            )[0]
            if kind == "top_up":
                ops.append(Op(kind, amount=self.random.randint(5_000, 20_000)))
                continue
            free = [c for c in committed if c.claim_id not in busy]
            if kind == "commit" or not free:
                claim = ModelClaim(f"c-{uuid.uuid4().hex[:12]}", self.random.randint(1_000, 20_000))
                ops.append(Op("commit", claim))
                continue
            claim = self.random.choice(free)
            busy.add(claim.claim_id)
            ops.append(Op(kind, claim))
        return ops

    def _run(self, op: Op, *, start: threading.Barrier) -> Outcome:
        outcome = Outcome(op)
        start.wait(timeout=60)
        try:
            if op.kind == "top_up":
                with self.database.transaction() as session:
                    BudgetRepository(session).change_budget(OFFER_ID, "olga", top_up=op.amount)
                return outcome
            assert op.claim is not None
            claim_id = op.claim.claim_id
            if op.kind in ("commit", "retry"):
                amount = Money(minor_units=op.claim.amount, currency="EUR")
                outcome.answer = self.activities.commit(
                    BudgetRequest(claim_id=claim_id, offer_id=OFFER_ID, amount=amount)
                )
            elif op.kind == "pay":
                self.activities.consume(claim_id)
            elif op.kind == "release":
                self.activities.release(claim_id)
        except Exception as error:
            outcome.error = f"{type(error).__name__}: {error}"
        return outcome

    def run(self) -> RaceReport:
        with ThreadPoolExecutor(max_workers=8) as pool:
            step = 0
            while sum(self.report.operations.values()) < self.trials:
                step += 1
                ops = self._ops()
                with self.database.transaction() as session:  # the claims exist already
                    session.add_all(
                        new_claim(op.claim.claim_id)
                        for op in ops
                        if op.kind == "commit" and op.claim
                    )
                before = self._use()
                start = threading.Barrier(len(ops))
                outcomes = list(pool.map(partial(self._run, start=start), ops))
                self._apply(outcomes)
                problems = self._check(outcomes, before)
                self.report.steps += 1
                self.report.operations.update(op.kind for op in ops)
                if problems:
                    described = ", ".join(f"{op.kind} {op.claim or op.amount}" for op in ops)
                    self.report.violations += [
                        f"step {step} (seed {SEED}): {problem} [{described}]"
                        for problem in problems
                    ]
        return self.report

    def _use(self) -> tuple[int, int]:
        """(budget, committed + paid) in the database."""
        with self.database.reading() as session:
            offer = session.get_one(Offer, OFFER_ID)
            use = BudgetRepository(session).use(offer)
        assert offer.budget_minor_units is not None
        return offer.budget_minor_units, use.committed + use.paid

    def _apply(self, outcomes: list[Outcome]) -> None:
        for outcome in outcomes:
            claim, kind = outcome.op.claim, outcome.op.kind
            if outcome.error is not None or claim is None:
                continue
            if kind == "commit":
                assert outcome.answer is not None
                if outcome.answer.committed:
                    claim.state = CommitmentState.COMMITTED
                    self.claims[claim.claim_id] = claim
                    self.report.committed += 1
                else:
                    self.report.refused += 1
            elif kind == "pay":
                claim.state = CommitmentState.PAID
            elif kind == "release":
                claim.state = CommitmentState.RELEASED

    def _check(self, outcomes: list[Outcome], before: tuple[int, int]) -> list[str]:
        problems = [
            f"{o.op.kind} {o.op.claim} failed: {o.error}" for o in outcomes if o.error is not None
        ]
        problems += [
            f"retry of {o.op.claim} was not answered as committed"
            for o in outcomes
            if o.op.kind == "retry" and o.answer is not None and not o.answer.committed
        ]
        budget, committed_and_paid = self._use()
        if committed_and_paid > budget:
            problems.append(f"D7: {committed_and_paid} committed and paid > budget {budget}")
        with self.database.reading() as session:
            rows = {
                claim_id: (amount, state)
                for claim_id, amount, state in session.execute(
                    select(
                        BudgetCommitment.claim_id,
                        BudgetCommitment.amount_minor_units,
                        BudgetCommitment.state,
                    )
                )
            }
        for claim in self.claims.values():
            if rows.get(claim.claim_id) != (claim.amount, claim.state):
                problems.append(f"claim {claim.claim_id} is {rows.get(claim.claim_id)}: {claim}")
        if len(rows) != len(self.claims):
            problems.append(f"{len(rows)} commitments stored, {len(self.claims)} granted")
        approved = sum(claim.amount for claim in self.claims.values())
        if sum(amount for amount, _ in rows.values()) != approved:
            problems.append("committed + paid + released is not what was approved")
        start_budget, start_used = before
        for outcome in outcomes:
            answer, refused = outcome.answer, outcome.op.claim
            if outcome.op.kind != "commit" or answer is None or answer.committed or not refused:
                continue
            granted_to_others = sum(
                o.op.claim.amount
                for o in outcomes
                if o is not outcome
                and o.op.kind == "commit"
                and o.answer
                and o.answer.committed
                and o.op.claim
            )
            least_room = start_budget - start_used - granted_to_others
            if refused.amount <= least_room:
                problems.append(
                    f"D7: {refused.claim_id} ({refused.amount}) refused, but at least {least_room} "
                    "remained"
                )
        return problems


@pytest.fixture(params=["postgres", "sqlite"])
def race_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Database]]:
    """A migrated database of its own: a new PostgreSQL schema, or a SQLite file."""
    url: URL
    if request.param == "postgres":
        request.applymarker(pytest.mark.postgres)
        url = request.getfixturevalue("postgres_schema")
    else:
        url = make_url(f"sqlite:///{tmp_path / 'budget-race.db'}")
    database = Database.from_url(url)
    upgrade_to_head(database.engine)
    try:
        yield request.param, database
    finally:
        database.dispose()


def test_d7_concurrent_approvals_payouts_releases_and_top_ups_never_over_commit(
    race_database: tuple[str, Database],
) -> None:
    """D7: steps of concurrent operations against one offer's budget (see the module's
    docstring); after every step the invariant holds: 0 violations, no over-commitment."""
    backend, database = race_database
    report = BudgetRace(database, TRIALS, SEED).run()
    print(report.line(backend))
    for violation in report.violations[:10]:
        print(violation)
    assert sum(report.operations.values()) >= TRIALS
    assert report.refused > 0  # the budget ran short: the race was real
    assert report.violations == []
