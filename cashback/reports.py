"""The program's reports (issue 13) as tables: named columns and rows of plain values, so the API
answers each as JSON or CSV and the dashboard draws its charts from the same rows.

Every report is one entry of `REPORTS`: a name, its columns and a function of a
`ReportContext` (the day the report is as of, the selection, the claims' facts read once from
the read model, and the session for reports that read other tables). A new report is one more
entry; the API and the CSV export pick it up by name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cached_property

from sqlalchemy.orm import Session

from cashback.budgets import budget_lines
from cashback.db.reports import ReportRepository, ReportSelection
from cashback.db.session import Database
from cashback.domain import reports as rules
from cashback.domain.reports import AGE_BUCKETS, ClaimFacts

Cell = str | int | float | bool | None
Row = dict[str, Cell]


class ReportContext:
    """What a report reads: as of which day, which claims, and the session they come from."""

    def __init__(self, session: Session, selection: ReportSelection, as_of: date) -> None:
        self.session = session
        self.selection = selection
        self.as_of = as_of

    @cached_property
    def claims(self) -> list[ClaimFacts]:
        return ReportRepository(self.session).claim_facts(self.selection)

    @cached_property
    def sla(self) -> rules.SlaReport:
        return rules.sla_report(self.claims, self.as_of)


@dataclass(frozen=True)
class Report:
    name: str
    title: str
    columns: tuple[str, ...]
    rows: Callable[[ReportContext], list[Row]]


@dataclass(frozen=True)
class ReportTable:
    name: str
    title: str
    as_of: date
    columns: tuple[str, ...]
    rows: list[Row]


def _share(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _sla_rows(context: ReportContext) -> list[Row]:
    return [
        {
            "offer_id": row.offer_id,
            "month": row.month,
            "claims": row.claims,
            "decisions_due": row.decisions_due,
            "decided_in_time": row.decided_in_time,
            "decision_breaches": row.decision_breaches,
            "decided_in_time_share": _share(row.decided_in_time_share),
            "payments_due": row.payments_due,
            "paid_in_time": row.paid_in_time,
            "payment_breaches": row.payment_breaches,
            "paid_in_time_share": _share(row.paid_in_time_share),
        }
        for row in context.sla.rows
    ]


def _breach_rows(context: ReportContext) -> list[Row]:
    return [
        {
            "kind": breach.kind.value,
            "claim_id": breach.claim_id,
            "offer_id": breach.offer_id,
            "reseller_name": breach.reseller_name,
            "month": breach.month,
            "due_on": breach.due_on.isoformat(),
            "done_on": None if breach.done_on is None else breach.done_on.isoformat(),
            "open": breach.done_on is None,
            "days_late": breach.days_late,
            "business_days": breach.business_days,
        }
        for breach in context.sla.breaches
    ]


def _funnel_rows(context: ReportContext) -> list[Row]:
    """One row per stage and currency: amounts in different currencies are never added."""
    rows: list[Row] = []
    for currency in sorted({claim.currency for claim in context.claims}):
        of_currency = [claim for claim in context.claims if claim.currency == currency]
        rows += [
            {
                "stage": row.stage.value,
                "currency": currency,
                "claims": row.count,
                "amount_minor_units": row.amounts.get(currency, 0),
                "unpriced": row.unpriced,
            }
            for row in rules.funnel(of_currency)
        ]
    return rows


def _stage_rows(context: ReportContext) -> list[Row]:
    return [
        {
            "stage": row.stage.value,
            "claims": row.claims,
            "median_days": row.median_days,
            "p90_days": row.p90_days,
        }
        for row in rules.stage_durations(context.claims)
    ]


def _waiting_rows(context: ReportContext) -> list[Row]:
    rows: list[Row] = []
    for row in rules.waiting(context.claims, context.as_of):
        cells: Row = {"status": row.status.value, "claims": row.total}
        cells.update({f"days_{name}": row.buckets[name] for name, _, _ in AGE_BUCKETS})
        cells.update({"oldest_claim_id": row.oldest_claim_id, "oldest_days": row.oldest_days})
        rows.append(cells)
    return rows


def _budget_rows(context: ReportContext) -> list[Row]:
    """D7: each offer's budget use now (the budget service's figures, whatever `as_of`)."""
    return [
        {
            "offer_id": line.offer_id,
            "offer_name": line.offer_name,
            "currency": line.currency,
            "budget": line.budget,
            "committed": line.committed,
            "paid": line.paid,
            "released": line.released,
            "remaining": line.remaining,
        }
        for line in budget_lines(context.session, context.selection.offer_id)
    ]


SLA_COLUMNS = (
    "offer_id", "month", "claims", "decisions_due", "decided_in_time", "decision_breaches",
    "decided_in_time_share", "payments_due", "paid_in_time", "payment_breaches",
    "paid_in_time_share",
)  # fmt: skip
BREACH_COLUMNS = (
    "kind", "claim_id", "offer_id", "reseller_name", "month", "due_on", "done_on", "open",
    "days_late", "business_days",
)  # fmt: skip

REPORTS: dict[str, Report] = {
    report.name: report
    for report in (
        Report(
            "sla",
            "R9, R14: decided within 14 business days, paid within 45 days",
            SLA_COLUMNS,
            _sla_rows,
        ),
        Report(
            "sla_breaches",
            "R9, R14: the promises not kept",
            BREACH_COLUMNS,
            _breach_rows,
        ),
        Report(
            "funnel",
            "Claims and amounts per stage",
            ("stage", "currency", "claims", "amount_minor_units", "unpriced"),
            _funnel_rows,
        ),
        Report(
            "stages",
            "Days per stage: median and 90th percentile",
            ("stage", "claims", "median_days", "p90_days"),
            _stage_rows,
        ),
        Report(
            "waiting",
            "Open claims per status, by days in it",
            (
                "status",
                "claims",
                *(f"days_{name}" for name, _, _ in AGE_BUCKETS),
                "oldest_claim_id",
                "oldest_days",
            ),
            _waiting_rows,
        ),
        Report(
            "budget_use",
            "D7: budget use per offer, in minor units (now, whatever the day)",
            (
                "offer_id",
                "offer_name",
                "currency",
                "budget",
                "committed",
                "paid",
                "released",
                "remaining",
            ),
            _budget_rows,
        ),
    )
}


class UnknownReport(LookupError):
    def __init__(self, name: str) -> None:
        super().__init__(f"no report {name!r}; the reports are: {', '.join(REPORTS)}")
        self.name = name


# The days a report may be "as of": the program's years, up to a year ahead (a report counts
# business days up to its day, one by one).
EARLIEST_DAY = date(2000, 1, 1)
DAYS_AHEAD = timedelta(days=366)


class DayOutOfRange(ValueError):
    def __init__(self, day: date, latest: date) -> None:
        super().__init__(
            f"as_of {day.isoformat()} is out of range: a report is as of a day from "
            f"{EARLIEST_DAY.isoformat()} to {latest.isoformat()}"
        )


class UnknownOffer(LookupError):
    def __init__(self, offer_id: str) -> None:
        super().__init__(f"no offer {offer_id!r}")
        self.offer_id = offer_id


def build_reports(
    database: Database,
    names: list[str] | None,
    selection: ReportSelection,
    as_of: date,
) -> list[ReportTable]:
    """The named reports (all if `names` is None), read in one transaction; raises
    `UnknownReport`, `UnknownOffer` or `DayOutOfRange`."""
    latest = datetime.now(UTC).date() + DAYS_AHEAD
    if not EARLIEST_DAY <= as_of <= latest:
        raise DayOutOfRange(as_of, latest)
    chosen = list(REPORTS) if names is None else names
    for name in chosen:
        if name not in REPORTS:
            raise UnknownReport(name)
    with database.reading() as session:
        offer_id = selection.offer_id
        if offer_id is not None and not ReportRepository(session).has_offer(offer_id):
            raise UnknownOffer(offer_id)
        context = ReportContext(session, selection, as_of)
        return [
            ReportTable(
                name=REPORTS[name].name,
                title=REPORTS[name].title,
                as_of=as_of,
                columns=REPORTS[name].columns,
                rows=REPORTS[name].rows(context),
            )
            for name in chosen
        ]
