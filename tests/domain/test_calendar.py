"""R9: the business-day calendar (Monday to Friday minus the public holidays of a country)."""

from __future__ import annotations

from datetime import date, timedelta
from functools import cache

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cashback.domain.calendar import add_business_days, business_days_between, is_business_day

COUNTRIES = ("DE", "GB", "FR", "AT", "US", "JP")

countries = st.sampled_from(COUNTRIES)
any_day = st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31))
year_end_day = st.builds(
    lambda year, offset: date(year, 12, 10) + timedelta(days=offset),
    st.integers(min_value=2020, max_value=2035),
    st.integers(min_value=0, max_value=30),
)
business_day_counts = st.integers(min_value=0, max_value=40)


@cache
def _reference_holidays(country: str) -> holidays.HolidayBase:
    """An independent table, built by the test, to check the calendar against."""
    return holidays.country_holidays(country)


def _is_reference_business_day(day: date, country: str) -> bool:
    return day.weekday() < 5 and day not in _reference_holidays(country)


# --- concrete dates --------------------------------------------------------------------------


def test_r9_holidays_package_agrees_with_the_hand_computed_de_year_end() -> None:
    """R9: the premise of the hand-computed dates below: in DE (federal) 24 Dec is not a public
    holiday, 25 and 26 Dec and 1 Jan are, and Epiphany (6 Jan, only some Länder) is not."""
    de = holidays.country_holidays("DE", years=[2026, 2027])
    assert date(2026, 12, 24) not in de
    assert date(2026, 12, 25) in de
    assert date(2026, 12, 26) in de
    assert date(2027, 1, 1) in de
    assert date(2027, 1, 6) not in de


def test_r9_deadline_skips_german_christmas_and_new_year() -> None:
    """R9: a claim received Mon 2026-12-21 in DE is decided by Tue 2027-01-12.

    By hand: 22, 23, 24 Dec (1-3), 25 Dec holiday, 26/27 weekend, 28-31 Dec (4-7), 1 Jan holiday,
    4-8 Jan (8-12), 9/10 weekend, 11 and 12 Jan (13, 14).
    """
    assert add_business_days(date(2026, 12, 21), 14, "DE") == date(2027, 1, 12)


def test_r9_deadline_skips_british_boxing_day_observed() -> None:
    """R9: in GB Boxing Day 2026 (a Saturday) is observed on Mon 28 Dec, so a claim received
    Mon 2026-12-21 is decided one business day later than in DE: Wed 2027-01-13."""
    gb = holidays.country_holidays("GB", years=[2026, 2027])
    assert date(2026, 12, 28) in gb
    assert date(2026, 12, 24) not in gb
    assert add_business_days(date(2026, 12, 21), 14, "GB") == date(2027, 1, 13)


def test_r9_deadline_skips_british_substitute_days_around_2028_new_year() -> None:
    """R9: GB 2027/28: Christmas observed Mon 27 Dec, Boxing Day observed Tue 28 Dec, New Year
    (a Saturday) observed Mon 3 Jan 2028. From Fri 2027-12-24: 29, 30, 31 Dec (1-3), 4 Jan (4)."""
    assert add_business_days(date(2027, 12, 24), 4, "GB") == date(2028, 1, 4)
    assert business_days_between(date(2027, 12, 24), date(2028, 1, 4), "GB") == 4


def test_r9_weekend_and_holiday_are_not_business_days() -> None:
    """R9: Saturday, Sunday and a public holiday are not business days; an ordinary weekday is."""
    assert not is_business_day(date(2026, 12, 19), "DE")  # Saturday
    assert not is_business_day(date(2026, 12, 20), "DE")  # Sunday
    assert not is_business_day(date(2026, 12, 25), "DE")  # Christmas Day, a Friday
    assert not is_business_day(date(2026, 10, 3), "DE")  # German Unity Day (a Saturday anyway)
    assert not is_business_day(date(2026, 4, 3), "DE")  # Good Friday
    assert is_business_day(date(2026, 12, 21), "DE")  # Monday
    assert is_business_day(date(2026, 12, 24), "DE")  # Christmas Eve: a business day in DE


def test_r9_holidays_are_those_of_the_resellers_country() -> None:
    """R9: the holidays are the reseller's country's: 3 Oct 2025 (Fri) is German Unity Day, a
    holiday in DE but an ordinary business day in GB."""
    assert not is_business_day(date(2025, 10, 3), "DE")
    assert is_business_day(date(2025, 10, 3), "GB")


def test_r9_country_code_is_case_insensitive() -> None:
    """R9: the country is an ISO 3166 alpha-2 code; lower case is accepted."""
    assert is_business_day(date(2026, 12, 25), "de") is False
    assert add_business_days(date(2026, 12, 21), 14, "de") == date(2027, 1, 12)


def test_r9_unknown_country_is_a_value_error() -> None:
    """R9: a country without a holiday calendar is refused, not treated as holiday-free."""
    with pytest.raises(ValueError, match="no public holiday calendar"):
        is_business_day(date(2026, 1, 5), "XX")


def test_r9_negative_business_days_are_refused() -> None:
    """R9: the review window cannot be negative."""
    with pytest.raises(ValueError, match="negative"):
        add_business_days(date(2026, 1, 5), -1, "DE")


def test_r9_zero_business_days_is_the_start_itself() -> None:
    """R9: `start` is not counted; zero business days after it is `start`, even on a Sunday."""
    assert add_business_days(date(2026, 12, 20), 0, "DE") == date(2026, 12, 20)


def test_r9_received_on_a_weekend_counts_from_the_next_business_day() -> None:
    """R9: a claim received on Sat 2026-01-10 in DE: the first business day is Mon 2026-01-12."""
    assert add_business_days(date(2026, 1, 10), 1, "DE") == date(2026, 1, 12)
    assert add_business_days(date(2026, 1, 10), 14, "DE") == date(2026, 1, 29)


def test_r9_business_days_between_is_zero_when_end_is_not_after_start() -> None:
    """R9: no business days lie between a day and itself, or an earlier day."""
    assert business_days_between(date(2026, 12, 21), date(2026, 12, 21), "DE") == 0
    assert business_days_between(date(2026, 12, 21), date(2026, 12, 1), "DE") == 0


def test_r9_business_days_between_over_de_year_end() -> None:
    """R9: from Mon 2026-12-21 to Tue 2027-01-12 in DE there are exactly 14 business days."""
    assert business_days_between(date(2026, 12, 21), date(2027, 1, 12), "DE") == 14


# --- properties ------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(start=any_day, n=st.integers(min_value=1, max_value=40), country=countries)
def test_r9_deadline_is_a_business_day(start: date, n: int, country: str) -> None:
    """R9: the deadline never lands on a weekend or a public holiday of the country."""
    deadline = add_business_days(start, n, country)
    assert deadline.weekday() < 5
    assert deadline not in _reference_holidays(country)
    assert is_business_day(deadline, country)


@settings(max_examples=200, deadline=None)
@given(start=any_day, n=business_day_counts, country=countries)
def test_r9_exactly_n_business_days_between_start_and_deadline(
    start: date, n: int, country: str
) -> None:
    """R9: exactly N business days lie after `start` up to and including the deadline, counted
    against an independent holiday table."""
    deadline = add_business_days(start, n, country)
    assert business_days_between(start, deadline, country) == n
    days = [start + timedelta(days=i) for i in range(1, (deadline - start).days + 1)]
    assert sum(_is_reference_business_day(day, country) for day in days) == n


@settings(max_examples=200, deadline=None)
@given(start=any_day, n=business_day_counts, country=countries)
def test_r9_deadline_is_strictly_monotonic_in_n(start: date, n: int, country: str) -> None:
    """R9: one more business day moves the deadline strictly later, and never before `start`."""
    earlier = add_business_days(start, n, country)
    later = add_business_days(start, n + 1, country)
    assert start <= earlier < later
    assert (earlier - start).days >= n


@settings(max_examples=200, deadline=None)
@given(
    start=any_day,
    n=st.integers(min_value=0, max_value=20),
    m=st.integers(min_value=0, max_value=20),
    country=countries,
)
def test_r9_business_days_compose(start: date, n: int, m: int, country: str) -> None:
    """R9: N + M business days after `start` equals M business days after the N-th."""
    assert add_business_days(start, n + m, country) == add_business_days(
        add_business_days(start, n, country), m, country
    )


@settings(max_examples=200, deadline=None)
@given(start=year_end_day, n=st.integers(min_value=1, max_value=20), country=countries)
def test_r9_deadline_across_year_end_skips_christmas_and_new_year(
    start: date, n: int, country: str
) -> None:
    """R9: across a year end the deadline is a business day and N business days away."""
    deadline = add_business_days(start, n, country)
    assert _is_reference_business_day(deadline, country)
    assert business_days_between(start, deadline, country) == n


@settings(max_examples=200, deadline=None)
@given(
    start=year_end_day,
    n=st.integers(min_value=1, max_value=20),
    country=st.sampled_from(("DE", "GB")),
)
def test_r9_de_and_gb_deadline_never_on_christmas_or_new_year(
    start: date, n: int, country: str
) -> None:
    """R9: in DE and GB the deadline is never 25 Dec, 26 Dec or 1 Jan, whatever the weekday."""
    deadline = add_business_days(start, n, country)
    assert (deadline.month, deadline.day) not in {(12, 25), (12, 26), (1, 1)}


@settings(max_examples=200, deadline=None)
@given(year=st.integers(min_value=2020, max_value=2035), country=st.sampled_from(("DE", "GB")))
def test_r9_christmas_and_new_year_are_never_business_days_in_de_and_gb(
    year: int, country: str
) -> None:
    """R9: 25 and 26 Dec and 1 Jan are never business days in DE or GB."""
    for day in (date(year, 12, 25), date(year, 12, 26), date(year, 1, 1)):
        assert not is_business_day(day, country)


@settings(max_examples=200, deadline=None)
@given(start=any_day, end=any_day, country=countries)
def test_r9_business_days_between_is_bounded_by_calendar_days(
    start: date, end: date, country: str
) -> None:
    """R9: never more business days than calendar days, none when `end <= start`."""
    count = business_days_between(start, end, country)
    assert 0 <= count <= max((end - start).days, 0)
    if end <= start:
        assert count == 0
