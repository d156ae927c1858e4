"""`/metrics` (issue 13): the program's figures from the database and the API's latency per
route template, in Prometheus' text format. The seeded program of tests/reports_data.py, as
of 2026-05-29: R9 breaches c2 (closed) and c4 (open), R14 breaches c5 (closed) and c7 (open)."""

from __future__ import annotations

from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from cashback.db import Database
from cashback.metrics import ProgramCollector
from tests.api.harness import Api
from tests.reports_data import AS_OF, seed_reports

SECRET_TOKEN = "s3cr3t-bank-details-token-0123456789"


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_r9_r14_metrics_count_claims_breaches_and_payments(api: Api) -> None:
    with api.services.database.transaction() as session:
        seed_reports(session)
    api.app.state.metrics.watch_program(api.services.database, lambda: AS_OF)
    answer = await api.http.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=")
    samples = _samples(answer.text)
    assert samples[("cashback_read_model_up", ())] == 1
    claims = {
        dict(labels)["status"]: value
        for (name, labels), value in samples.items()
        if name == "cashback_claims"
    }
    assert claims == {
        "SUBMITTED": 1,
        "UNDER_REVIEW": 1,
        "REJECTED": 1,
        "AWAITING_BANK_DETAILS": 1,
        "SCHEDULED_FOR_PAYMENT": 1,
        "PAYMENT_FAILED": 0,
        "PAID": 2,
        "CANCELLED": 2,
    }
    breaches = {
        (dict(labels)["kind"], dict(labels)["state"]): value
        for (name, labels), value in samples.items()
        if name == "cashback_sla_breaches"
    }
    assert breaches == {
        ("decision", "open"): 1,
        ("decision", "closed"): 1,
        ("payment", "open"): 1,
        ("payment", "closed"): 1,
    }
    payments = {
        dict(labels)["outcome"]: value
        for (name, labels), value in samples.items()
        if name == "cashback_payments"
    }
    assert payments == {"pending": 0, "paid": 0, "rejected": 0, "returned": 0}


async def test_r13_latency_is_labelled_by_route_template_never_by_the_raw_path(api: Api) -> None:
    """R13: a bank-details link's token is a secret: the latency names `/bank-details/{token}`
    and the token appears nowhere in the metrics; a path no route knows is `unmatched`."""
    await api.http.get(f"/bank-details/{SECRET_TOKEN}")
    await api.http.get(f"/no-such-page/{SECRET_TOKEN}")
    await api.http.get("/operator/reports", headers=api.operator)
    text = (await api.http.get("/metrics")).text
    assert SECRET_TOKEN not in text
    samples = _samples(text)
    counts = {
        (dict(labels)["method"], dict(labels)["route"], dict(labels)["status"]): value
        for (name, labels), value in samples.items()
        if name == "cashback_http_request_duration_seconds_count"
    }
    assert counts[("GET", "/bank-details/{token}", "404")] == 1
    assert counts[("GET", "unmatched", "404")] == 1
    assert counts[("GET", "/operator/reports", "200")] == 1


def test_a_database_that_cannot_be_read_is_a_zero_not_a_failed_scrape(tmp_path: Path) -> None:
    database = Database.from_url(f"sqlite:///{tmp_path / 'missing' / 'cashback.db'}")
    families = {family.name: family for family in ProgramCollector(database).collect()}
    assert list(families) == ["cashback_read_model_up"]
    assert [sample.value for sample in families["cashback_read_model_up"].samples] == [0]
