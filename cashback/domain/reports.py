"""The program's reports (issue 13), as pure functions of the facts the read model holds about
each claim: whether the R9 and R14 promises were kept (SLA, per offer and month received, with
the breaches), the funnel, how long each stage takes and where claims wait.

The database gathers the facts (`cashback.db.reports`); nothing here reads a clock: every
report is "as of" a day its caller names.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache

from cashback.domain.calendar import add_business_days, business_days_between
from cashback.domain.status import ClaimStatus

# The program's own actor on the timeline: a decision it took itself when the review
# deadline's timer fired (R9) is the deadline's own decision, in time by definition.
PROGRAM_ACTOR = "system"
# R10, R16: the words with which the workflow cancels a claim whose cash back is forfeited.
FORFEIT_WORDS = "forfeited"
# R9, R14: the program's promises, in the defaults of `ProgramPolicy`.
REVIEW_BUSINESS_DAYS = 14
PAYOUT_DAYS = 45


class BreachKind(StrEnum):
    DECISION = "decision"  # R9: not decided within 14 business days
    PAYMENT = "payment"  # R14: not paid within 45 days of the final confirmation


class FunnelStage(StrEnum):
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    FORFEITED = "forfeited"
    PAID = "paid"


class Stage(StrEnum):
    """A stretch of the lifecycle whose duration the stage report measures."""

    REVIEW = "review"  # received -> decided (R9)
    BANK_DETAILS = "bank_details"  # approved -> scheduled for payment (R10)
    PAYOUT = "payout"  # scheduled for payment -> paid (R14, R15)
    TOTAL = "total"  # received -> paid


# Claims waiting, by the days they have been in their status: [low, high) in days.
AGE_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("0-6", 0, 7),
    ("7-13", 7, 14),
    ("14-29", 14, 30),
    ("30-44", 30, 45),
    ("45+", 45, None),
)


@dataclass(frozen=True)
class ClaimFacts:
    """What the reports read of one claim: its row in the read model and the first time its
    timeline reached each status."""

    claim_id: str
    offer_id: str
    reseller_name: str
    country: str  # the reseller's (R9's calendar)
    status: ClaimStatus
    received_at: datetime
    currency: str
    amount_minor_units: int | None = None  # D4: the approved amount
    estimated_minor_units: int | None = None  # before approval: eligible licences x the rate
    review_deadline: date | None = None  # R9, as the workflow computed it
    decided_at: datetime | None = None  # first rejection or approval
    decided_by: str | None = None
    escalated: bool = False
    final_confirmation_on: date | None = None  # R14: the 45 days run from it
    payout_due: date | None = None
    scheduled_at: datetime | None = None  # first SCHEDULED_FOR_PAYMENT
    paid_at: datetime | None = None
    paid_on: date | None = None
    outcome_reasons: tuple[str, ...] = ()
    status_since: datetime | None = None  # when the claim entered its current status

    @property
    def received_on(self) -> date:
        return self.received_at.astimezone(UTC).date()

    @property
    def approved(self) -> bool:
        return self.final_confirmation_on is not None

    @property
    def forfeited(self) -> bool:
        """R10, R16: cancelled with its cash back forfeited (R12's cancellation is not)."""
        return self.status is ClaimStatus.CANCELLED and any(
            FORFEIT_WORDS in reason for reason in self.outcome_reasons
        )

    @property
    def deadline(self) -> date:
        """R9: the last day of the review; computed for a claim the workflow has not projected
        one for yet."""
        if self.review_deadline is not None:
            return self.review_deadline
        return _review_deadline(self.received_on, self.country)

    @property
    def due(self) -> date | None:
        """R14: the last day of the payout bound, once approved."""
        if self.payout_due is not None:
            return self.payout_due
        if self.final_confirmation_on is None:
            return None
        return self.final_confirmation_on + timedelta(days=PAYOUT_DAYS)


@dataclass(frozen=True)
class Breach:
    """A promise not kept (or not kept so far, `done_on` None) by one claim."""

    kind: BreachKind
    claim_id: str
    offer_id: str
    reseller_name: str
    month: str  # the month the claim was received, YYYY-MM
    due_on: date
    done_on: date | None
    days_late: int  # calendar days after `due_on`, as of the report's day for an open one
    business_days: int | None  # R9: business days from receipt to decision (or to as of)


@dataclass
class SlaRow:
    """R9 and R14 for the claims of one offer received in one month."""

    offer_id: str
    month: str
    claims: int = 0
    decisions_due: int = 0  # decided, or undecided past their deadline
    decided_in_time: int = 0
    payments_due: int = 0  # paid, or approved, unpaid and past their payout bound
    paid_in_time: int = 0

    @property
    def decision_breaches(self) -> int:
        return self.decisions_due - self.decided_in_time

    @property
    def payment_breaches(self) -> int:
        return self.payments_due - self.paid_in_time

    @property
    def decided_in_time_share(self) -> float | None:
        return _share(self.decided_in_time, self.decisions_due)

    @property
    def paid_in_time_share(self) -> float | None:
        return _share(self.paid_in_time, self.payments_due)


@dataclass(frozen=True)
class SlaReport:
    rows: list[SlaRow]
    breaches: list[Breach]


@dataclass
class FunnelRow:
    """How many claims reached a stage, and their amounts per currency (minor units, D4)."""

    stage: FunnelStage
    count: int = 0
    amounts: dict[str, int] = field(default_factory=dict)
    unpriced: int = 0  # claims counted whose amount is not known yet

    def add(self, currency: str, minor_units: int | None) -> None:
        self.count += 1
        if minor_units is None:
            self.unpriced += 1
        else:
            self.amounts[currency] = self.amounts.get(currency, 0) + minor_units


@dataclass(frozen=True)
class StageRow:
    """Calendar days a stage took over the claims that went through it."""

    stage: Stage
    claims: int
    median_days: float | None
    p90_days: float | None


@dataclass
class WaitingRow:
    """Open claims in one status, by the days they have been in it."""

    status: ClaimStatus
    buckets: dict[str, int] = field(default_factory=lambda: {b[0]: 0 for b in AGE_BUCKETS})
    oldest_claim_id: str | None = None
    oldest_days: int | None = None

    @property
    def total(self) -> int:
        return sum(self.buckets.values())


# Reports count the same days for many claims (received on one day, in one country): the
# calendar's answers are kept, a few thousand of them.
@lru_cache(maxsize=8192)
def _review_deadline(received_on: date, country: str) -> date:
    return add_business_days(received_on, REVIEW_BUSINESS_DAYS, country)


@lru_cache(maxsize=8192)
def _business_days(start: date, end: date, country: str) -> int:
    return business_days_between(start, end, country)


def _share(part: int, whole: int) -> float | None:
    return None if whole == 0 else part / whole


def _end_of(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=UTC)


def month_of(claim: ClaimFacts) -> str:
    return claim.received_on.strftime("%Y-%m")


def decision_in_time(claim: ClaimFacts) -> bool | None:
    """R9: whether the claim was decided by the end of its review deadline's day; None while
    undecided. A decision the program took itself, not escalated, is the deadline timer's own
    (R9: "when it fires without a decision, a conclusive verdict decides")."""
    if claim.decided_at is None:
        return None
    if claim.decided_by == PROGRAM_ACTOR and not claim.escalated:
        return True
    return claim.decided_at < _end_of(claim.deadline)


def _decision_breach(claim: ClaimFacts, as_of: date) -> Breach | None:
    deadline = claim.deadline
    if claim.decided_at is None:
        if claim.status.is_final or as_of <= deadline:
            return None
        done_on, until = None, as_of
    elif decision_in_time(claim):
        return None
    else:
        done_on = until = claim.decided_at.astimezone(UTC).date()
    return Breach(
        kind=BreachKind.DECISION,
        claim_id=claim.claim_id,
        offer_id=claim.offer_id,
        reseller_name=claim.reseller_name,
        month=month_of(claim),
        due_on=deadline,
        done_on=done_on,
        days_late=(until - deadline).days,
        business_days=_business_days(claim.received_on, until, claim.country),
    )


def _payment_breach(claim: ClaimFacts, as_of: date) -> Breach | None:
    due = claim.due
    if due is None:
        return None
    if claim.paid_on is not None:
        if claim.paid_on <= due:
            return None
        done_on, until = claim.paid_on, claim.paid_on
    elif claim.status.is_final or as_of <= due:
        return None  # cancelled or forfeited: nothing to pay; or not due yet
    else:
        done_on, until = None, as_of
    return Breach(
        kind=BreachKind.PAYMENT,
        claim_id=claim.claim_id,
        offer_id=claim.offer_id,
        reseller_name=claim.reseller_name,
        month=month_of(claim),
        due_on=due,
        done_on=done_on,
        days_late=(until - due).days,
        business_days=None,
    )


def sla_report(claims: Iterable[ClaimFacts], as_of: date) -> SlaReport:
    """R9 and R14 per offer and month received: decisions due (decided, or undecided past the
    deadline) and decided in time; payments due (paid, or approved, unpaid, not cancelled and
    past the payout bound) and paid in time; and every breach, the oldest due first."""
    rows: dict[tuple[str, str], SlaRow] = {}
    breaches: list[Breach] = []
    for claim in claims:
        key = (claim.offer_id, month_of(claim))
        row = rows.setdefault(key, SlaRow(offer_id=key[0], month=key[1]))
        row.claims += 1
        decision = _decision_breach(claim, as_of)
        if claim.decided_at is not None or decision is not None:
            row.decisions_due += 1
            row.decided_in_time += decision is None
        payment = _payment_breach(claim, as_of)
        if claim.paid_on is not None or payment is not None:
            row.payments_due += 1
            row.paid_in_time += payment is None
        breaches += [b for b in (decision, payment) if b is not None]
    breaches.sort(key=lambda b: (b.due_on, b.kind, b.claim_id))
    return SlaReport(rows=[rows[key] for key in sorted(rows)], breaches=breaches)


def funnel(claims: Iterable[ClaimFacts]) -> list[FunnelRow]:
    """How many claims were submitted, approved (final confirmation sent), rejected, cancelled
    (R12), forfeited (R10, R16) and paid, with their amounts per currency. A submitted claim's
    amount is its approved one or, before approval, the automatic verdict's estimate."""
    rows = {stage: FunnelRow(stage) for stage in FunnelStage}
    for claim in claims:
        estimate = claim.amount_minor_units
        if estimate is None:
            estimate = claim.estimated_minor_units
        rows[FunnelStage.SUBMITTED].add(claim.currency, estimate)
        if claim.approved:
            rows[FunnelStage.APPROVED].add(claim.currency, claim.amount_minor_units)
        if claim.status is ClaimStatus.REJECTED:
            rows[FunnelStage.REJECTED].add(claim.currency, estimate)
        elif claim.status is ClaimStatus.PAID:
            rows[FunnelStage.PAID].add(claim.currency, claim.amount_minor_units)
        elif claim.forfeited:
            rows[FunnelStage.FORFEITED].add(claim.currency, claim.amount_minor_units)
        elif claim.status is ClaimStatus.CANCELLED:
            rows[FunnelStage.CANCELLED].add(claim.currency, claim.amount_minor_units)
    return list(rows.values())


def _days(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return (end - start).total_seconds() / 86400


def percentile(values: Sequence[float], share: float) -> float:
    """The nearest-rank percentile: the smallest value with at least `share` of the values at or
    below it."""
    ordered = sorted(values)
    return ordered[max(math.ceil(share * len(ordered)), 1) - 1]


def stage_durations(claims: Iterable[ClaimFacts]) -> list[StageRow]:
    """Median and 90th percentile (nearest rank) of the calendar days each stage took, over the
    claims that completed it; rounded to a hundredth of a day."""
    spans: dict[Stage, list[float]] = defaultdict(list)
    for claim in claims:
        for stage, days in (
            (Stage.REVIEW, _days(claim.received_at, claim.decided_at)),
            # Only an approved claim is ever scheduled for payment.
            (Stage.BANK_DETAILS, _days(claim.decided_at, claim.scheduled_at)),
            (Stage.PAYOUT, _days(claim.scheduled_at, claim.paid_at)),
            (Stage.TOTAL, _days(claim.received_at, claim.paid_at)),
        ):
            if days is not None:
                spans[stage].append(days)
    rows = []
    for stage in Stage:
        values = spans[stage]
        rows.append(
            StageRow(
                stage=stage,
                claims=len(values),
                median_days=round(statistics.median(values), 2) if values else None,
                p90_days=round(percentile(values, 0.9), 2) if values else None,
            )
        )
    return rows


def age_bucket(days: int) -> str:
    for name, low, high in AGE_BUCKETS:
        if days >= low and (high is None or days < high):
            return name
    raise ValueError(f"a negative age: {days} days")


def waiting(claims: Iterable[ClaimFacts], as_of: date) -> list[WaitingRow]:
    """Open claims per status (the lifecycle's order), by the whole days since they entered it
    (as of `as_of`), with the longest waiting claim."""
    rows = {status: WaitingRow(status) for status in ClaimStatus if not status.is_final}
    for claim in claims:
        if claim.status.is_final:
            continue
        since = (claim.status_since or claim.received_at).astimezone(UTC).date()
        days = max((as_of - since).days, 0)
        row = rows[claim.status]
        row.buckets[age_bucket(days)] += 1
        if row.oldest_days is None or days > row.oldest_days:
            row.oldest_claim_id, row.oldest_days = claim.claim_id, days
    return list(rows.values())
