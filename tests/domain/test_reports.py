"""The report rules (issue 13): where R9's and R14's promises end, what counts as forfeited,
the percentile and the age buckets."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cashback.domain.reports import (
    AGE_BUCKETS,
    BreachKind,
    ClaimFacts,
    FunnelStage,
    age_bucket,
    decision_in_time,
    funnel,
    percentile,
    sla_report,
    stage_durations,
    waiting,
)
from cashback.domain.status import ClaimStatus

RECEIVED = datetime(2026, 3, 26, 9, 0, tzinfo=UTC)  # a Thursday before Easter
DEADLINE = date(2026, 4, 17)  # R9: 14 German business days later, Good Friday and Easter Monday out


def _claim(**changes: object) -> ClaimFacts:
    base = ClaimFacts(
        claim_id="c",
        offer_id="o",
        reseller_name="Acme Software GmbH",
        country="DE",
        status=ClaimStatus.UNDER_REVIEW,
        received_at=RECEIVED,
        currency="EUR",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def _decided(at: datetime, by: str = "operator@cashback.example", **changes: object) -> ClaimFacts:
    return _claim(status=ClaimStatus.REJECTED, decided_at=at, decided_by=by, **changes)


def test_r9_the_deadline_is_computed_over_public_holidays_when_not_projected() -> None:
    """R9: 14 business days of the reseller's country: Easter's holidays do not count."""
    assert _claim().deadline == DEADLINE
    assert _claim(country="AT").deadline == date(2026, 4, 16)  # Good Friday works in Austria
    assert _claim(review_deadline=date(2026, 4, 20)).deadline == date(2026, 4, 20)


def test_r9_a_decision_on_the_deadlines_last_second_is_in_time_the_next_is_not() -> None:
    last = datetime(2026, 4, 17, 23, 59, 59, tzinfo=UTC)
    assert decision_in_time(_decided(last)) is True
    assert decision_in_time(_decided(last + timedelta(seconds=1))) is False
    assert decision_in_time(_claim()) is None


def test_r9_the_programs_own_decision_at_the_deadlines_timer_is_in_time() -> None:
    """R9: when the timer fires without a decision a conclusive verdict decides; that decision
    (actor `system`) is the deadline's own. An escalated claim decided later is late."""
    fired = datetime(2026, 4, 18, 0, 0, 2, tzinfo=UTC)
    assert decision_in_time(_decided(fired, by="system")) is True
    assert decision_in_time(_decided(fired, by="system", escalated=True)) is False


def test_r9_an_undecided_claim_breaches_the_day_after_its_deadline() -> None:
    on_deadline = sla_report([_claim()], DEADLINE)
    assert on_deadline.breaches == []
    assert on_deadline.rows[0].decisions_due == 0
    after = sla_report([_claim()], DEADLINE + timedelta(days=1))
    assert [(b.kind, b.done_on, b.days_late) for b in after.breaches] == [
        (BreachKind.DECISION, None, 1)
    ]
    assert after.rows[0].decided_in_time_share == 0.0


def _approved(**changes: object) -> ClaimFacts:
    approved = _claim(
        status=ClaimStatus.SCHEDULED_FOR_PAYMENT,
        decided_at=datetime(2026, 4, 1, 9, tzinfo=UTC),
        decided_by="operator@cashback.example",
        final_confirmation_on=date(2026, 4, 1),
        amount_minor_units=1250,
    )
    return replace(approved, **changes)  # type: ignore[arg-type]


def test_r14_paid_on_the_45th_day_is_in_time_on_the_46th_is_late() -> None:
    """R14: the bound is the 45th day after the final confirmation (2026-05-16)."""
    due = date(2026, 5, 16)
    assert _approved().due == due
    in_time = sla_report([_approved(status=ClaimStatus.PAID, paid_on=due)], date(2026, 6, 30))
    assert (in_time.rows[0].payments_due, in_time.rows[0].paid_in_time) == (1, 1)
    late = sla_report(
        [_approved(status=ClaimStatus.PAID, paid_on=due + timedelta(days=1))], date(2026, 6, 30)
    )
    assert [(b.kind, b.days_late) for b in late.breaches] == [(BreachKind.PAYMENT, 1)]


def test_r14_an_unpaid_claim_breaches_after_its_bound_unless_cancelled() -> None:
    due = date(2026, 5, 16)
    assert sla_report([_approved()], due).breaches == []
    assert [b.done_on for b in sla_report([_approved()], due + timedelta(days=1)).breaches] == [
        None
    ]
    cancelled = _approved(status=ClaimStatus.CANCELLED)
    report = sla_report([cancelled], due + timedelta(days=30))
    assert report.breaches == []
    assert report.rows[0].payments_due == 0


def test_r10_r12_r16_forfeited_is_a_cancellation_whose_funds_are_forfeited() -> None:
    """R10 and R16 forfeit the cash back; R12's cancellation (an individual's account) does
    not: the funnel tells them apart."""
    forfeited = _approved(
        status=ClaimStatus.CANCELLED,
        outcome_reasons=("R16: no valid bank details after notice 3; the funds are forfeited",),
    )
    cancelled = _approved(
        status=ClaimStatus.CANCELLED,
        outcome_reasons=("R12: the bank account given is an individual's, not a company's",),
    )
    assert forfeited.forfeited
    assert not cancelled.forfeited
    counts = {row.stage: row.count for row in funnel([forfeited, cancelled])}
    assert counts == {
        FunnelStage.SUBMITTED: 2,
        FunnelStage.APPROVED: 2,
        FunnelStage.REJECTED: 0,
        FunnelStage.CANCELLED: 1,
        FunnelStage.FORFEITED: 1,
        FunnelStage.PAID: 0,
    }


def test_age_buckets_meet_without_gaps() -> None:
    assert [age_bucket(days) for days in (0, 6, 7, 13, 14, 29, 30, 44, 45, 1000)] == [
        "0-6", "0-6", "7-13", "7-13", "14-29", "14-29", "30-44", "30-44", "45+", "45+",
    ]  # fmt: skip
    with pytest.raises(ValueError, match="negative"):
        age_bucket(-1)
    assert [name for name, _, _ in AGE_BUCKETS] == ["0-6", "7-13", "14-29", "30-44", "45+"]


def test_waiting_counts_days_since_the_claim_entered_its_status() -> None:
    since = datetime(2026, 4, 10, 23, 0, tzinfo=UTC)
    rows = waiting([_approved(status_since=since)], date(2026, 4, 17))
    row = next(r for r in rows if r.status is ClaimStatus.SCHEDULED_FOR_PAYMENT)
    assert (row.total, row.oldest_days, row.buckets["7-13"]) == (1, 7, 1)
    assert all(r.total == 0 for r in rows if r is not row)
    assert {r.status for r in rows} == {s for s in ClaimStatus if not s.is_final}


@given(st.lists(st.floats(min_value=0, max_value=1e6), min_size=1, max_size=50))
def test_percentile_is_a_value_with_at_least_the_share_at_or_below_it(values: list[float]) -> None:
    p90 = percentile(values, 0.9)
    assert p90 in values
    at_or_below = sum(v <= p90 for v in values)
    assert at_or_below >= 0.9 * len(values)
    assert sum(v < p90 for v in values) < 0.9 * len(values)  # the smallest such value
    assert percentile(values, 1.0) == max(values)


_days = st.integers(min_value=0, max_value=120)


@st.composite
def _claims(draw: st.DrawFn) -> ClaimFacts:
    """A claim at any point of its life: decided or not, approved or not, paid or not."""
    received = RECEIVED + timedelta(days=draw(st.integers(0, 90)), hours=draw(st.integers(0, 23)))
    claim = _claim(
        claim_id=f"c{draw(st.integers(0, 10**6))}",
        offer_id=draw(st.sampled_from(["o1", "o2"])),
        received_at=received,
        status=draw(st.sampled_from(list(ClaimStatus))),
        country=draw(st.sampled_from(["DE", "AT"])),
    )
    if draw(st.booleans()):
        decided = received + timedelta(days=draw(_days))
        claim = replace(
            claim,
            decided_at=decided,
            decided_by=draw(st.sampled_from(["system", "operator@cashback.example"])),
            escalated=draw(st.booleans()),
        )
        if draw(st.booleans()):
            claim = replace(claim, final_confirmation_on=decided.date())
            if draw(st.booleans()):
                claim = replace(claim, paid_on=decided.date() + timedelta(days=draw(_days)))
    return claim


@given(st.lists(_claims(), max_size=30), st.dates(date(2026, 3, 1), date(2027, 3, 1)))
def test_r9_r14_every_claim_due_is_in_time_or_a_breach(
    claims: list[ClaimFacts], as_of: date
) -> None:
    """R9, R14: per offer and month, what was due is either kept or listed as a breach; no
    claim is counted twice, and an open breach is late as of the report's day."""
    report = sla_report(claims, as_of)
    assert sum(row.claims for row in report.rows) == len(claims)
    decisions = [b for b in report.breaches if b.kind is BreachKind.DECISION]
    payments = [b for b in report.breaches if b.kind is BreachKind.PAYMENT]
    assert sum(row.decision_breaches for row in report.rows) == len(decisions)
    assert sum(row.payment_breaches for row in report.rows) == len(payments)
    assert all(b.days_late >= 1 for b in report.breaches)
    for row in report.rows:
        assert 0 <= row.decided_in_time <= row.decisions_due <= row.claims
        assert 0 <= row.paid_in_time <= row.payments_due <= row.claims


def _at(month: int, day: int, hour: int = 9) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def test_stage_days_median_and_nearest_rank_p90_per_stage() -> None:
    """Review 2, 4 and 9.5 days: median 4, p90 the 3rd (9.5); bank details 1 day; payout
    and total from the one paid claim; a stage no claim completed has no figures."""
    paid = _claim(
        claim_id="p",
        status=ClaimStatus.PAID,
        received_at=_at(3, 2),
        decided_at=_at(3, 4),
        final_confirmation_on=date(2026, 3, 4),
        scheduled_at=_at(3, 5),
        paid_at=_at(3, 5, 21),
    )
    rejected = _claim(claim_id="r", status=ClaimStatus.REJECTED, received_at=_at(3, 2),
                      decided_at=_at(3, 6))  # fmt: skip
    slow = _claim(claim_id="s", status=ClaimStatus.REJECTED, received_at=_at(3, 2),
                  decided_at=_at(3, 11, 21))  # fmt: skip
    rows = {row.stage.value: row for row in stage_durations([paid, rejected, slow, _claim()])}
    assert [(r.claims, r.median_days, r.p90_days) for r in rows.values()] == [
        (3, 4.0, 9.5),
        (1, 1.0, 1.0),
        (1, 0.5, 0.5),
        (1, 3.5, 3.5),
    ]
    none = stage_durations([_claim()])
    assert [(r.claims, r.median_days, r.p90_days) for r in none] == [(0, None, None)] * 4
    third = _claim(received_at=_at(3, 2), decided_at=_at(3, 2, 17), status=ClaimStatus.REJECTED)
    assert stage_durations([third])[0].median_days == 0.33  # rounded to a hundredth


def test_d4_funnel_amounts_estimates_and_unpriced_claims() -> None:
    """D4: a submitted claim counts its approved amount, else the verdict's estimate, else it
    is unpriced; an approved claim's amount counts as approved and, once paid, as paid."""
    approved = _claim(status=ClaimStatus.PAID, amount_minor_units=5000, estimated_minor_units=9,
                      final_confirmation_on=date(2026, 4, 1))  # fmt: skip
    estimated = _claim(estimated_minor_units=1250)
    rejected = _claim(status=ClaimStatus.REJECTED, estimated_minor_units=700)
    unknown = _claim()
    rows = {row.stage: row for row in funnel([approved, estimated, rejected, unknown])}
    submitted = rows[FunnelStage.SUBMITTED]
    assert (submitted.count, submitted.amounts, submitted.unpriced) == (4, {"EUR": 6950}, 1)
    assert (rows[FunnelStage.APPROVED].count, rows[FunnelStage.APPROVED].amounts) == (
        1,
        {"EUR": 5000},
    )
    assert rows[FunnelStage.PAID].amounts == {"EUR": 5000}
    assert (rows[FunnelStage.REJECTED].amounts, rows[FunnelStage.REJECTED].unpriced) == (
        {"EUR": 700},
        0,
    )
    assert rows[FunnelStage.CANCELLED].amounts == {}


def test_waiting_takes_the_oldest_first_found_and_never_a_negative_age() -> None:
    """The longest waiting claim is named (the first of equals); a claim without a status
    change waits since receipt; one whose status changed after the report's day waits 0."""
    first = _claim(claim_id="a", status_since=_at(4, 1))
    same = _claim(claim_id="b", status_since=_at(4, 1, 23))
    newer = _claim(claim_id="c", status_since=_at(4, 20))
    received_only = _claim(claim_id="d", status=ClaimStatus.SUBMITTED, received_at=_at(4, 10))
    rows = {
        row.status: row for row in waiting([first, same, newer, received_only], date(2026, 4, 15))
    }
    review = rows[ClaimStatus.UNDER_REVIEW]
    assert (review.total, review.oldest_claim_id, review.oldest_days) == (3, "a", 14)
    assert review.buckets == {"0-6": 1, "7-13": 0, "14-29": 2, "30-44": 0, "45+": 0}
    assert (
        rows[ClaimStatus.SUBMITTED].oldest_claim_id,
        rows[ClaimStatus.SUBMITTED].oldest_days,
    ) == (
        "d",
        5,
    )
    assert rows[ClaimStatus.PAYMENT_FAILED].oldest_claim_id is None


def test_r9_r14_breaches_say_who_when_and_how_late_in_due_order() -> None:
    """R9: an escalated claim decided three days late, 15 business days after receipt (Good
    Friday and Easter Monday out); R14: the stored bound wins over the computed one."""
    late = _decided(datetime(2026, 4, 20, 10, tzinfo=UTC), escalated=True, claim_id="late",
                    offer_id="o2")  # fmt: skip
    unpaid = _approved(claim_id="unpaid", payout_due=date(2026, 4, 10))
    report = sla_report([unpaid, late], date(2026, 4, 12))
    assert [(b.kind, b.claim_id, b.offer_id, b.due_on, b.done_on, b.days_late) for b in
            report.breaches] == [
        (BreachKind.PAYMENT, "unpaid", "o", date(2026, 4, 10), None, 2),
        (BreachKind.DECISION, "late", "o2", DEADLINE, date(2026, 4, 20), 3),
    ]  # fmt: skip
    assert [b.business_days for b in report.breaches] == [None, 15]
    assert {b.reseller_name for b in report.breaches} == {"Acme Software GmbH"}
    assert {b.month for b in report.breaches} == {"2026-03"}
    assert [(row.offer_id, row.month) for row in report.rows] == [
        ("o", "2026-03"),
        ("o2", "2026-03"),
    ]


def test_received_on_is_the_utc_day() -> None:
    tokyo = timezone(timedelta(hours=9))
    assert _claim(received_at=datetime(2026, 3, 27, 8, 0, tzinfo=tokyo)).received_on == date(
        2026, 3, 26
    )


@pytest.fixture
def tokyo_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The machine's local time zone is Tokyo's: the reports' days must still be UTC days."""
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("tokyo_clock")
def test_r9_days_are_utc_days_whatever_the_machines_time_zone() -> None:
    """R9: a decision at 20:00 UTC on the day after the deadline is late by one day (in Tokyo
    it is already the day after); waiting counts UTC days too."""
    late = _decided(datetime(2026, 4, 18, 20, tzinfo=UTC))
    (breach,) = sla_report([late], date(2026, 5, 1)).breaches
    assert (breach.done_on, breach.days_late) == (date(2026, 4, 18), 1)
    row = waiting([_claim(status_since=datetime(2026, 4, 1, 20, tzinfo=UTC))], date(2026, 4, 8))
    assert row[1].oldest_days == 7


def test_r14_a_late_payout_is_a_closed_breach_with_its_day() -> None:
    paid_late = _approved(status=ClaimStatus.PAID, paid_on=date(2026, 5, 20))
    (breach,) = sla_report([paid_late], date(2026, 6, 1)).breaches
    assert (breach.kind, breach.done_on, breach.days_late) == (
        BreachKind.PAYMENT,
        date(2026, 5, 20),
        4,
    )


def test_r9_r14_shares_are_none_when_nothing_was_due() -> None:
    row = sla_report([_claim()], DEADLINE).rows[0]
    assert (row.decided_in_time_share, row.paid_in_time_share) == (None, None)
    kept = [_decided(_at(4, 1), claim_id=f"k{i}") for i in range(4)]
    late = _decided(_at(4, 20), claim_id="l")
    assert sla_report([*kept, late], DEADLINE).rows[0].decided_in_time_share == 0.8


def test_r10_r12_funnel_amounts_of_forfeited_and_cancelled_claims() -> None:
    forfeited = _approved(
        status=ClaimStatus.CANCELLED, amount_minor_units=300, outcome_reasons=("funds forfeited",)
    )
    cancelled = _approved(status=ClaimStatus.CANCELLED, amount_minor_units=200, currency="CHF")
    rows = {row.stage: row for row in funnel([forfeited, cancelled, _claim(), _claim()])}
    assert rows[FunnelStage.FORFEITED].amounts == {"EUR": 300}
    assert rows[FunnelStage.CANCELLED].amounts == {"CHF": 200}
    assert rows[FunnelStage.SUBMITTED].unpriced == 2


def test_stage_days_of_long_stages_and_thirds() -> None:
    """Days are 86,400 seconds; a third of a day is 0.33."""
    long = _claim(received_at=_at(3, 2), decided_at=_at(3, 2) + timedelta(days=1000))
    assert stage_durations([long])[0].median_days == 1000.0
    third = _claim(received_at=_at(3, 2), decided_at=_at(3, 2, 17))
    assert stage_durations([third])[0].p90_days == 0.33


def test_waiting_skips_final_claims_and_counts_a_future_status_as_zero_days() -> None:
    paid = _claim(claim_id="p", status=ClaimStatus.PAID)
    newer = _claim(claim_id="n", status_since=_at(4, 20))
    rows = {row.status: row for row in waiting([paid, newer], date(2026, 4, 15))}
    assert (rows[ClaimStatus.UNDER_REVIEW].total, rows[ClaimStatus.UNDER_REVIEW].oldest_days) == (
        1,
        0,
    )
    assert ClaimStatus.PAID not in rows
