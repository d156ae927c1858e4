"""R2, R3, R4: what an offer asks of an agreement, its licence limits and its claim period."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from cashback.domain.offers import ClaimPeriod, LicenceLimits, OfferCriteria

OPENS = datetime(2026, 1, 1, tzinfo=UTC)
CLOSES = datetime(2026, 4, 1, tzinfo=UTC)

aware_datetimes = st.datetimes(
    min_value=datetime(2025, 1, 1),  # noqa: DTZ001 - hypothesis bounds are naive by design
    max_value=datetime(2027, 12, 31),  # noqa: DTZ001
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5))]),
)

claim_period_lengths = st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(days=800))


def _criteria(**overrides: Any) -> OfferCriteria:
    fields: dict[str, Any] = {
        "sale_date_from": date(2026, 1, 1),
        "sale_date_to": date(2026, 3, 31),
        "products": frozenset({"office-std"}),
        "licence_types": frozenset({"olp"}),
        "customer_segments": frozenset({"commercial"}),
        "countries": frozenset({"DE", "AT"}),
    }
    fields.update(overrides)
    return OfferCriteria.model_validate(fields)


def test_r2_codes_are_compared_in_upper_case() -> None:
    """R2: products, licence types and segments are stored trimmed and in upper case."""
    criteria = _criteria(
        products=frozenset({" office-std ", "Visio"}),
        licence_types=frozenset({"olp"}),
        customer_segments=frozenset({"Education", "commercial"}),
    )
    assert criteria.products == frozenset({"OFFICE-STD", "VISIO"})
    assert criteria.licence_types == frozenset({"OLP"})
    assert criteria.customer_segments == frozenset({"EDUCATION", "COMMERCIAL"})


def test_r2_regions_are_iso_3166_country_codes() -> None:
    """R2 [ours]: regions are lists of ISO 3166 alpha-2 codes; anything else is refused."""
    assert _criteria(countries=frozenset({"DE", "GB"})).countries == frozenset({"DE", "GB"})
    for bad in ("DEU", "Germany", "d", "de"):
        with pytest.raises(ValidationError):
            _criteria(countries=frozenset({bad}))


def test_r2_sale_date_window_must_be_ordered() -> None:
    """R2: the sale-date window cannot end before it starts; a one-day window is fine."""
    with pytest.raises(ValidationError, match="sale_date_to is before sale_date_from"):
        _criteria(sale_date_from=date(2026, 3, 1), sale_date_to=date(2026, 2, 28))
    one_day = _criteria(sale_date_from=date(2026, 3, 1), sale_date_to=date(2026, 3, 1))
    assert one_day.sale_date_from == one_day.sale_date_to


def test_r3_limits_examples() -> None:
    """R3: min and max per customer are at least 1 and min is not above max."""
    assert LicenceLimits(min_per_customer=5, max_per_customer=5).max_per_customer == 5
    with pytest.raises(ValidationError, match="min_per_customer is above max_per_customer"):
        LicenceLimits(min_per_customer=6, max_per_customer=5)
    with pytest.raises(ValidationError):
        LicenceLimits(min_per_customer=0, max_per_customer=5)


@settings(max_examples=200, deadline=None)
@given(
    low=st.integers(min_value=-5, max_value=1000), high=st.integers(min_value=-5, max_value=1000)
)
def test_r3_limits_are_valid_iff_one_le_min_le_max(low: int, high: int) -> None:
    """R3: LicenceLimits accepts exactly 1 <= min <= max."""
    if 1 <= low <= high:
        limits = LicenceLimits(min_per_customer=low, max_per_customer=high)
        assert (limits.min_per_customer, limits.max_per_customer) == (low, high)
    else:
        with pytest.raises(ValidationError):
            LicenceLimits(min_per_customer=low, max_per_customer=high)


def test_r4_claim_period_is_half_open() -> None:
    """R4: a claim may be submitted from `opens_at` up to, but not at, `closes_at`."""
    period = ClaimPeriod(opens_at=OPENS, closes_at=CLOSES)
    assert period.is_open(OPENS)
    assert period.is_open(CLOSES - timedelta(microseconds=1))
    assert not period.is_open(CLOSES)
    assert not period.is_open(OPENS - timedelta(microseconds=1))


def test_r4_claim_period_compares_instants_across_time_zones() -> None:
    """R4: 23:30 at UTC-1 on 31 Dec is 00:30 UTC on 1 Jan: inside the period; 00:30 at UTC+2 on
    1 Apr is 22:30 UTC on 31 Mar: still inside."""
    period = ClaimPeriod(opens_at=OPENS, closes_at=CLOSES)
    assert period.is_open(datetime(2025, 12, 31, 23, 30, tzinfo=timezone(timedelta(hours=-1))))
    assert period.is_open(datetime(2026, 4, 1, 0, 30, tzinfo=timezone(timedelta(hours=2))))
    assert not period.is_open(datetime(2026, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=2))))


def test_r4_claim_period_must_close_after_it_opens() -> None:
    """R4: an empty or inverted claim period is refused."""
    with pytest.raises(ValidationError, match="closes_at is not after opens_at"):
        ClaimPeriod(opens_at=OPENS, closes_at=OPENS)
    with pytest.raises(ValidationError):
        ClaimPeriod(opens_at=CLOSES, closes_at=OPENS)


def test_r4_claim_period_needs_time_zones() -> None:
    """R4: a naive boundary is refused, and a naive instant cannot be judged silently."""
    naive = datetime(2026, 1, 1)  # noqa: DTZ001 - the point of the test
    with pytest.raises(ValidationError):
        ClaimPeriod.model_validate({"opens_at": naive, "closes_at": CLOSES})
    with pytest.raises(TypeError):
        ClaimPeriod(opens_at=OPENS, closes_at=CLOSES).is_open(naive)


@settings(max_examples=200, deadline=None)
@given(opens=aware_datetimes, length=claim_period_lengths, at=aware_datetimes)
def test_r4_is_open_iff_opens_le_at_lt_closes(
    opens: datetime, length: timedelta, at: datetime
) -> None:
    """R4: `is_open(at)` holds exactly when opens_at <= at < closes_at."""
    period = ClaimPeriod(opens_at=opens, closes_at=opens + length)
    assert period.is_open(at) == (opens <= at < opens + length)
