"""The business-day calendar (R9): Monday to Friday minus the public holidays of a country.

The `holidays` tables change between releases, so workflows never call this directly: they
ask an activity (activities/calendar.py) and keep the answer in their history.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

import holidays


@lru_cache(maxsize=64)
def _public_holidays(country: str) -> holidays.HolidayBase:
    try:
        return holidays.country_holidays(country.upper())
    except NotImplementedError as error:
        raise ValueError(f"no public holiday calendar for country {country!r}") from error


def is_business_day(day: date, country: str) -> bool:
    """R9: Monday to Friday, and not a public holiday of `country` (ISO 3166 alpha-2)."""
    return day.weekday() < 5 and day not in _public_holidays(country)


def add_business_days(start: date, business_days: int, country: str) -> date:
    """The `business_days`-th business day after `start` (`start` itself is not counted).

    R9: a claim received on `start` is decided by `add_business_days(start, 14, country)`.
    """
    if business_days < 0:
        raise ValueError("business_days cannot be negative")
    day = start
    remaining = business_days
    while remaining:
        day += timedelta(days=1)
        if is_business_day(day, country):
            remaining -= 1
    return day


def business_days_between(start: date, end: date, country: str) -> int:
    """Business days after `start` up to and including `end` (0 when `end <= start`)."""
    count = 0
    day = start
    while day < end:
        day += timedelta(days=1)
        if is_business_day(day, country):
            count += 1
    return count
