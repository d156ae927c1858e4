"""Races (R3, D1, D2), with the operations of each step really running at the same time.

**Licence reservations against one offer's per-customer maximum (R3)**, on PostgreSQL and on
SQLite: a seeded randomized driver runs steps; each step starts 2-6 operations on threads
behind a barrier, each thread with its own sessions, through the real code paths:

- submit: the claim row (`ClaimRepository.add`, D1: now and then a twin for the same agreement
  in the same step, of which exactly one may be stored) and the eligibility check with its
  reservation (`EligibilityActivities.check_claim`);
- retry: the eligibility check of a claim under review once more (an activity retry);
- reject (under review) and cancel (approved): `release_licences` and the status;
- approve: the status and amount (reservations unchanged).

Three end customers (one of them hot) share the offer's maximum of 30 per customer; claims ask
for 1-12 licences. After every step the invariant is checked against the database: no
customer's reserved licences exceed the maximum; a released claim holds nothing; no claim holds
two reservations, and each claim holds exactly what its last verdict granted; a refusal was
justified (the licences held by others at the step's start plus those granted in the step
leave no room), so released licences are free again; one claim per agreement.

A **trial** is one operation, run concurrently with the others of its step and checked by the
invariant after that step. CI runs at least 1,000 trials (about 250 steps) on each database;
`CASHBACK_RACE_TRIALS` raises the count, `CASHBACK_RACE_SEED` sets the seed. A seeded driver
rather than Hypothesis' state machine: the interleaving of threads is not reproducible, so
Hypothesis could neither replay nor shrink a failing sequence; a failure prints the seed, the
step and its operations instead.

**100 concurrent identical submissions through the API** (real HTTP, uvicorn on loopback), on
SQLite and PostgreSQL: with one Idempotency-Key (D2: one 201, 99 answers 200 with the same
claim) and without a key for one offer and agreement (D1: one 201, 99 answers 409 naming it):
one claim, one invoice and one workflow each.

Every test prints its counts.
"""

from __future__ import annotations

import asyncio
import os
import random
import threading
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import URL, make_url

from activities.eligibility import ClaimVerdict, EligibilityActivities, EligibilityRequest
from cashback.claims import claim_workflow_id
from cashback.db import (
    ClaimRepository,
    Database,
    DuplicateClaim,
    SqlLicensingRecords,
    upgrade_to_head,
)
from cashback.db.tables import (
    AgreementLine,
    Claim,
    LicenceReservation,
    LicensingAgreement,
    Offer,
)
from cashback.domain.eligibility import ClaimedAgreement, Verdict
from cashback.domain.money import Money
from cashback.domain.names import normalise_name
from cashback.domain.status import ClaimStatus
from tests.api.claims_helpers import (
    claim_fields,
    claim_rows,
    invoice_pdf,
    new_agreement,
    stored_invoices,
    terminate_all,
    wait_for_status,
    wait_for_workflows,
    workflows,
)
from tests.api.harness import Api
from tests.api.test_schema import serving
from tests.db.seed import NOW, OFFER_ID, add_offer, add_reseller, new_claim
from tests.identities import ACME as CLAIMANT

pytestmark = pytest.mark.security

TRIALS = int(os.environ.get("CASHBACK_RACE_TRIALS", "1000"))
SEED = int(os.environ.get("CASHBACK_RACE_SEED", "20260301"))
MAXIMUM = 30
CUSTOMERS = ("Contoso AG", "Fabrikam GmbH", "Northwind Traders AG")
CUSTOMER_WEIGHTS = (6, 3, 1)  # one hot customer, where claims race for the last licences
RESELLER_NAME = "Acme Software GmbH"


# ---- the reservation race ---------------------------------------------------------------------


class Stage(StrEnum):
    REVIEW = "review"
    APPROVED = "approved"
    RELEASED = "released"


@dataclass
class ModelClaim:
    claim_id: str
    agreement: str
    customer: str
    licences: int
    stage: Stage = Stage.REVIEW
    granted: int = 0  # what its last verdict reserved


@dataclass(frozen=True)
class Op:
    kind: str  # submit, twin, retry, reject, approve, cancel
    claim: ModelClaim


@dataclass
class Outcome:
    op: Op
    verdict: ClaimVerdict | None = None
    duplicate: bool = False
    error: str | None = None


@dataclass
class RaceReport:
    steps: int = 0
    operations: Counter[str] = field(default_factory=Counter)
    eligible: int = 0
    refused_above_maximum: int = 0
    duplicates_refused: int = 0
    violations: list[str] = field(default_factory=list)

    def line(self, backend: str) -> str:
        return (
            f"{backend}: {sum(self.operations.values())} trials (concurrent operations: "
            f"{dict(sorted(self.operations.items()))}) in {self.steps} steps, each step "
            f"checked; {self.eligible} verdicts "
            f"eligible, {self.refused_above_maximum} refused above the maximum, "
            f"{self.duplicates_refused} D1 twins refused, {len(self.violations)} violations "
            f"(seed {SEED})"
        )


class Race:
    """The driver: the model of the claims, the steps, the operations, the invariant."""

    def __init__(self, database: Database, trials: int, seed: int) -> None:
        self.database = database
        self.trials = trials
        self.random = random.Random(seed)
        self.records = SqlLicensingRecords(database)
        self.activities = EligibilityActivities(self.records)
        self.claims: dict[str, ModelClaim] = {}
        self.report = RaceReport()
        with database.transaction() as session:
            add_reseller(session)
            add_offer(session, max_licences=MAXIMUM)
        with database.reading() as session:
            offer = session.get_one(Offer, OFFER_ID)
            self.criteria, self.limits = offer.criteria(), offer.limits()

    # -- choosing a step

    def _new_claim(self) -> ModelClaim:
        customer = self.random.choices(CUSTOMERS, CUSTOMER_WEIGHTS)[0]
        return ModelClaim(
            claim_id=f"c-{uuid.uuid4().hex[:12]}",
            agreement=f"OL-{uuid.uuid4().hex[:10].upper()}",
            customer=customer,
            licences=self.random.randint(1, 12),
        )

    def _ops(self) -> list[Op]:
        ops: list[Op] = []
        busy: set[str] = set()
        in_stage = {stage: [c for c in self.claims.values() if c.stage is stage] for stage in Stage}
        for _ in range(self.random.randint(2, 6)):
            kind = self.random.choices(
                ("submit", "retry", "reject", "approve", "cancel"), (45, 10, 15, 15, 15)
            )[0]
            stage = Stage.APPROVED if kind == "cancel" else Stage.REVIEW
            free = [c for c in in_stage[stage] if c.claim_id not in busy]
            if kind == "submit" or not free:
                claim = self._new_claim()
                ops.append(Op("submit", claim))
                if self.random.random() < 0.1:  # D1: the same agreement twice, at once
                    twin = ModelClaim(
                        f"c-{uuid.uuid4().hex[:12]}",
                        claim.agreement,
                        claim.customer,
                        claim.licences,
                    )
                    ops.append(Op("twin", twin))
                continue
            claim = self.random.choice(free)
            busy.add(claim.claim_id)
            ops.append(Op(kind, claim))
        return ops

    # -- running one operation (on its own thread, with its own sessions)

    def _request(self, claim: ModelClaim) -> EligibilityRequest:
        return EligibilityRequest(
            claim_id=claim.claim_id,
            offer_id=OFFER_ID,
            claimed=ClaimedAgreement(
                agreement_number=claim.agreement,
                customer_name=claim.customer,
                reseller_name=RESELLER_NAME,
                claimant=CLAIMANT,
            ),
            criteria=self.criteria,
            limits=self.limits,
        )

    def _run(self, op: Op, *, start: threading.Barrier) -> Outcome:
        claim = op.claim
        outcome = Outcome(op)
        start.wait(timeout=60)
        try:
            if op.kind in ("submit", "twin"):
                row = new_claim(claim.claim_id, agreement_number=claim.agreement)
                row.customer_name = claim.customer
                try:
                    with self.database.transaction() as session:
                        ClaimRepository(session).add(row)
                except DuplicateClaim:
                    outcome.duplicate = True
                    return outcome
                outcome.verdict = self.activities.check_claim(self._request(claim))
            elif op.kind == "retry":
                outcome.verdict = self.activities.check_claim(self._request(claim))
            elif op.kind in ("reject", "cancel"):
                self.activities.release_licences(claim.claim_id)
                status = ClaimStatus.REJECTED if op.kind == "reject" else ClaimStatus.CANCELLED
                with self.database.transaction() as session:
                    ClaimRepository(session).set_status(claim.claim_id, status)
            elif op.kind == "approve":
                amount = Money(minor_units=claim.granted * 1250, currency="EUR")
                with self.database.transaction() as session:
                    ClaimRepository(session).set_status(
                        claim.claim_id, ClaimStatus.AWAITING_BANK_DETAILS, amount
                    )
        except Exception as error:
            outcome.error = f"{type(error).__name__}: {error}"
        return outcome

    # -- the steps

    def run(self) -> RaceReport:
        with ThreadPoolExecutor(max_workers=8) as pool:
            step = 0
            while sum(self.report.operations.values()) < self.trials:
                step += 1
                ops = self._ops()
                self._import_records(ops)
                before = self._held()
                start = threading.Barrier(len(ops))
                outcomes = list(pool.map(partial(self._run, start=start), ops))
                self._apply(outcomes)
                problems = self._check(outcomes, before)
                self.report.steps += 1
                self.report.operations.update(op.kind for op in ops)
                if problems:
                    described = ", ".join(f"{op.kind} {op.claim}" for op in ops)
                    self.report.violations += [
                        f"step {step} (seed {SEED}): {problem} [{described}]"
                        for problem in problems
                    ]
        return self.report

    def _import_records(self, ops: list[Op]) -> None:
        """The operators imported the agreements' licensing records before the claims came."""
        with self.database.transaction() as session:
            session.add_all(
                LicensingAgreement(
                    agreement_number=op.claim.agreement,
                    customer_name=op.claim.customer,
                    customer_segment="Commercial",
                    customer_country="DE",
                    reseller_name=RESELLER_NAME,
                    seller_id=CLAIMANT.identifiers[0],
                    sale_date=NOW.date(),
                    imported_at=NOW,
                    lines=[
                        AgreementLine(
                            position=1,
                            product="Office Pro Plus",
                            licence_type="New",
                            quantity=op.claim.licences,
                        )
                    ],
                )
                for op in ops
                if op.kind == "submit"
            )

    def _held(self) -> dict[str, tuple[str, int]]:
        """claim id -> (customer key, licences) of every reservation row."""
        with self.database.reading() as session:
            rows = session.execute(
                select(
                    LicenceReservation.claim_id,
                    LicenceReservation.customer_key,
                    LicenceReservation.licences,
                )
            ).all()
        return {claim_id: (key, licences) for claim_id, key, licences in rows}

    def _apply(self, outcomes: list[Outcome]) -> None:
        """The model follows what the operations did."""
        for outcome in outcomes:
            claim, kind = outcome.op.claim, outcome.op.kind
            if outcome.error is not None:
                continue
            if kind in ("submit", "twin") and not outcome.duplicate:
                self.claims[claim.claim_id] = claim
            if outcome.verdict is not None:
                eligible = outcome.verdict.eligibility.verdict is Verdict.ELIGIBLE
                claim.granted = claim.licences if eligible else 0
                self.report.eligible += eligible
                reasons = {reason.code for reason in outcome.verdict.eligibility.reasons}
                self.report.refused_above_maximum += "above_maximum_licences" in reasons
            elif kind in ("reject", "cancel"):
                claim.stage, claim.granted = Stage.RELEASED, 0
            elif kind == "approve":
                claim.stage = Stage.APPROVED

    def _check(self, outcomes: list[Outcome], before: dict[str, tuple[str, int]]) -> list[str]:
        problems = [
            f"{o.op.kind} {o.op.claim.claim_id} failed: {o.error}" for o in outcomes if o.error
        ]
        held = self._held()
        totals: Counter[str] = Counter()
        for key, licences in held.values():
            totals[key] += licences
        for key, total in totals.items():
            if total > MAXIMUM:
                problems.append(f"R3: customer {key} holds {total} > {MAXIMUM}")
        with self.database.reading() as session:
            per_claim = session.execute(
                select(LicenceReservation.claim_id, func.count())
                .group_by(LicenceReservation.claim_id)
                .having(func.count() > 1)
            ).all()
            per_agreement = session.execute(
                select(Claim.agreement_number, func.count())
                .group_by(Claim.agreement_number)
                .having(func.count() > 1)
            ).all()
        problems += [f"claim {claim_id} holds {n} reservations" for claim_id, n in per_claim]
        problems += [f"D1: agreement {number} has {n} claims" for number, n in per_agreement]
        for claim in self.claims.values():
            row = held.get(claim.claim_id)
            if claim.stage is Stage.RELEASED:
                if row is not None:
                    problems.append(f"released claim {claim.claim_id} still holds {row[1]}")
            elif row is None or row != (normalise_name(claim.customer), claim.granted):
                problems.append(
                    f"claim {claim.claim_id} holds {row}, its verdict granted {claim.granted}"
                )
        twins = [o for o in outcomes if o.op.kind in ("submit", "twin")]
        agreements = Counter(o.op.claim.agreement for o in twins if not o.duplicate and not o.error)
        problems += [f"D1: {a} stored {n} times" for a, n in agreements.items() if n > 1]
        self.report.duplicates_refused += sum(o.duplicate for o in twins)
        problems += self._refusals_justified(outcomes, before)
        return problems

    def _refusals_justified(
        self, outcomes: list[Outcome], before: dict[str, tuple[str, int]]
    ) -> list[str]:
        """A refusal above the maximum needs the licences held by others at the step's start,
        plus those granted to others during the step, to leave no room for the claim: else
        licences that were released (or never granted) still count."""
        start: Counter[str] = Counter()
        for key, licences in before.values():
            start[key] += licences
        problems = []
        for outcome in outcomes:
            verdict = outcome.verdict
            if verdict is None or verdict.eligibility.verdict is Verdict.ELIGIBLE:
                continue
            claim = outcome.op.claim
            key = normalise_name(claim.customer)
            own = before.get(claim.claim_id, (key, 0))[1]
            grown = sum(
                max(other.op.claim.granted - before.get(other.op.claim.claim_id, (key, 0))[1], 0)
                for other in outcomes
                if other is not outcome
                and other.verdict is not None
                and normalise_name(other.op.claim.customer) == key
            )
            most_held_by_others = start[key] - own + grown
            if most_held_by_others + claim.licences <= MAXIMUM:
                problems.append(
                    f"R3: claim {claim.claim_id} ({claim.licences}) refused, but others held at "
                    f"most {most_held_by_others} of {MAXIMUM}"
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
        url = make_url(f"sqlite:///{tmp_path / 'race.db'}")
    database = Database.from_url(url)
    upgrade_to_head(database.engine)
    try:
        yield request.param, database
    finally:
        database.dispose()


def test_r3_d1_concurrent_submits_retries_rejections_cancellations_and_approvals(
    race_database: tuple[str, Database],
) -> None:
    """R3, D1: steps of concurrent operations against one offer's per-customer maximum (see the
    module's docstring); after every step, the invariant holds: 0 violations."""
    backend, database = race_database
    report = Race(database, TRIALS, SEED).run()
    print(report.line(backend))
    for violation in report.violations[:10]:
        print(violation)
    assert sum(report.operations.values()) >= TRIALS
    assert report.refused_above_maximum > 0  # the maximum was reached: the race was real
    assert report.violations == []


# ---- 100 identical submissions through the API ---------------------------------------------------


@pytest.fixture
def settings_overrides(on_both_databases: dict[str, Any]) -> dict[str, Any]:
    """The API on SQLite, and on PostgreSQL (a schema of its own)."""
    return on_both_databases


@pytest.fixture
async def base_url(api: Api) -> AsyncIterator[str]:
    async with serving(api) as url:
        yield url


async def hundred_at_once(
    base_url: str, headers: dict[str, str], fields: dict[str, str], invoice: bytes
) -> list[httpx.Response]:
    """The same submission 100 times, each on its own connection, all at once."""
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=120) as client:
        return await asyncio.gather(
            *(
                client.post(
                    "/claims",
                    data=fields,
                    files={"invoice": ("invoice.pdf", invoice, "application/pdf")},
                    headers=headers,
                )
                for _ in range(100)
            )
        )


def tally(responses: list[httpx.Response], read: Callable[[httpx.Response], str]) -> str:
    counts = Counter(f"{r.status_code} {read(r)}" for r in responses)
    return ", ".join(f"{n} x {answer}" for answer, n in sorted(counts.items()))


async def test_d1_d2_a_hundred_identical_submissions_at_once_are_one_claim(
    api: Api, base_url: str
) -> None:
    """D2: 100 concurrent requests with one Idempotency-Key: one 201, 99 x 200, all with the same
    claim id. D1: 100 concurrent requests without a key for one offer and agreement: one 201,
    99 x 409 naming that claim. Each: one claim row, one invoice, one workflow."""
    offer = await api.create_offer()
    reseller = await api.register()
    backend = api.services.database.dialect
    invoice = invoice_pdf()
    claim_ids = []
    for key in ("same-key-100", None):
        headers = dict(reseller.headers)
        if key is not None:
            headers["Idempotency-Key"] = key
        fields = claim_fields(offer["offer_id"], new_agreement())
        responses = await hundred_at_once(base_url, headers, fields, invoice)
        created = [r for r in responses if r.status_code == 201]
        assert len(created) == 1, tally(responses, lambda r: r.text[:80])
        claim_id = created[0].json()["claim_id"]
        claim_ids.append(claim_id)
        if key is not None:
            statuses = sorted(r.status_code for r in responses)
            assert statuses == [200] * 99 + [201], tally(responses, lambda r: r.text[:300])
            assert {r.json()["claim_id"] for r in responses} == {claim_id}
        else:
            assert sorted(r.status_code for r in responses) == [201] + [409] * 99
            conflicts = [r.json() for r in responses if r.status_code == 409]
            assert all(
                c["error"] == "duplicate_claim" and claim_id in c["detail"] for c in conflicts
            )
        rows = [row.id for row in claim_rows(api)]
        assert rows == claim_ids or sorted(rows) == sorted(claim_ids)
        assert len(stored_invoices(api)) == len(claim_ids)
        found = await wait_for_workflows(api, len(claim_ids))
        print(
            f"{backend}, {'Idempotency-Key' if key else 'no key, same offer and agreement'}: "
            f"100 requests -> {tally(responses, lambda r: r.json().get('error', 'claim'))}; "
            f"claims {len(rows)}, invoices {len(stored_invoices(api))}, workflows {len(found)} "
            "(in all so far)"
        )
    for claim_id in claim_ids:
        await wait_for_status(api, reseller, claim_id, ClaimStatus.UNDER_REVIEW)
    assert sorted(await workflows(api)) == sorted(claim_workflow_id(c) for c in claim_ids)
    assert len(claim_rows(api)) == 2
    await terminate_all(api)
