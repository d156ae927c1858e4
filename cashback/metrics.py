"""The program's figures for Prometheus (issue 13), read from the database at each scrape:
claims by status, the R9 and R14 breaches (as the SLA report counts them, as of today) and
payments by the bank's answer. Never from a workflow."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError

from cashback.db.reports import ReportRepository, ReportSelection
from cashback.db.session import Database
from cashback.domain.reports import BreachKind, sla_report

log = logging.getLogger(__name__)


class ProgramCollector(Collector):
    """Gauges of the read model; `cashback_read_model_up` is 0 (and the others absent) while
    the database cannot be read, so a scrape never fails for it."""

    def __init__(self, database: Database, today: Callable[[], date] | None = None) -> None:
        self._database = database
        self._today = today or (lambda: datetime.now(UTC).date())

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily(
            "cashback_read_model_up", "1 when the database answered this scrape, else 0"
        )
        try:
            with self._database.reading() as session:
                repository = ReportRepository(session)
                by_status = repository.claims_by_status()
                payments = repository.payments_by_outcome()
                facts = repository.claim_facts(ReportSelection())
        except SQLAlchemyError as error:
            log.warning("metrics: the database could not be read (%s)", type(error).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up

        claims = GaugeMetricFamily(
            "cashback_claims", "Claims by their current status", labels=["status"]
        )
        for status, count in by_status.items():
            claims.add_metric([status.value], count)
        yield claims

        breaches = GaugeMetricFamily(
            "cashback_sla_breaches",
            "Claims that broke R9 (decision within 14 business days) or R14 (payment within "
            "45 days): open (still not done) or closed (done late)",
            labels=["kind", "state"],
        )
        counts = {(kind, state): 0 for kind in BreachKind for state in ("open", "closed")}
        for breach in sla_report(facts, self._today()).breaches:
            counts[(breach.kind, "open" if breach.done_on is None else "closed")] += 1
        for (kind, state), count in counts.items():
            breaches.add_metric([kind.value, state], count)
        yield breaches

        outcomes = GaugeMetricFamily(
            "cashback_payments", "Payout orders by the bank's answer", labels=["outcome"]
        )
        for outcome, count in payments.items():
            outcomes.add_metric([outcome.value], count)
        yield outcomes
