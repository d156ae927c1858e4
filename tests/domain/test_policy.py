"""R9, R10, R14, R15, R16: the program's durations and counts, in one place."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from cashback.domain.calendar import add_business_days
from cashback.domain.payout import first_payable_day, payout_due
from cashback.domain.policy import ProgramPolicy
from cashback.domain.status import ClaimStatus, NoticeKind


@pytest.fixture
def policy() -> ProgramPolicy:
    return ProgramPolicy()


def test_r9_review_window_is_14_business_days(policy: ProgramPolicy) -> None:
    """R9: the review window defaults to 14 business days; Mon 2026-12-21 in DE -> 2027-01-12."""
    assert policy.review_business_days == 14
    deadline = add_business_days(date(2026, 12, 21), policy.review_business_days, "DE")
    assert deadline == date(2027, 1, 12)


def test_r10_r16_three_notices_of_five_calendar_days(policy: ProgramPolicy) -> None:
    """R10, R16: three notices, each answered within 5 calendar days."""
    assert policy.max_notices == 3
    assert policy.days_per_notice == 5
    assert policy.notice_window == timedelta(days=5)


def test_r10_r11_r16_which_notices_ask_for_bank_details() -> None:
    """R10, R11, R16: the bank-details request, the correction request (R11 counts as a
    notification) and the payment-failure notice ask the reseller to act; nothing else does."""
    asking = {kind for kind in NoticeKind if kind.asks_for_bank_details}
    assert asking == {
        NoticeKind.BANK_DETAILS_REQUEST,
        NoticeKind.CORRECTION_REQUEST,
        NoticeKind.PAYMENT_FAILURE,
    }


def test_r8_r12_r14_final_statuses() -> None:
    """R8 (rejected), R12/R10/R16 (cancelled) and R14 (paid) end the claim; nothing else does."""
    final = {status for status in ClaimStatus if status.is_final}
    assert final == {ClaimStatus.REJECTED, ClaimStatus.CANCELLED, ClaimStatus.PAID}


def test_r14_payout_window_is_45_days(policy: ProgramPolicy) -> None:
    """R14: pay within 45 days of the final confirmation."""
    assert policy.payout_days == 45
    assert policy.payout_window == timedelta(days=45)
    assert payout_due(date(2026, 3, 1), policy.payout_days) == date(2026, 4, 15)


def test_r15_default_return_window_is_60_days(policy: ProgramPolicy) -> None:
    """R15 [ours]: 60 days from the sale date unless the country has its own window."""
    assert policy.return_window_days == 60
    assert policy.return_window_for("DE") == 60
    assert first_payable_day(date(2026, 1, 1), policy.return_window_for("DE")) == date(2026, 3, 3)


def test_r15_country_return_window_overrides_the_default() -> None:
    """R15 [ours]: a country's own right of return wins; the lookup ignores the query's case."""
    policy = ProgramPolicy(return_window_days_by_country={"GB": 30, "AT": 14})
    assert policy.return_window_for("GB") == 30
    assert policy.return_window_for("at") == 14
    assert policy.return_window_for("DE") == 60


def test_r15_country_keys_are_normalised_or_refused() -> None:
    """R15: a per-country window configured with a lower-case code is honoured (or refused)."""
    try:
        policy = ProgramPolicy(return_window_days_by_country={"de": 14})
    except ValidationError:
        return
    assert policy.return_window_for("DE") == 14


def test_r15_negative_country_return_window_is_refused() -> None:
    """R15: a right of return cannot be negative, per country as by default."""
    with pytest.raises(ValidationError):
        ProgramPolicy(return_window_days_by_country={"AT": -5})


@pytest.mark.parametrize(
    "field",
    ["review_business_days", "days_per_notice", "max_notices", "payout_days"],
)
def test_r9_r10_r14_r16_durations_and_counts_are_positive(field: str) -> None:
    """R9, R10, R14, R16: a window or count of zero is refused."""
    with pytest.raises(ValidationError):
        ProgramPolicy.model_validate({field: 0})


def test_r15_return_window_may_be_zero_but_not_negative() -> None:
    """R15: no right of return is possible; a negative one is not."""
    assert ProgramPolicy(return_window_days=0).return_window_for("DE") == 0
    with pytest.raises(ValidationError):
        ProgramPolicy(return_window_days=-1)


def test_r9_r14_policy_is_frozen(policy: ProgramPolicy) -> None:
    """R9, R14: a policy in a workflow snapshot cannot be changed in place."""
    with pytest.raises(ValidationError):
        policy.payout_days = 10  # type: ignore[misc]


@settings(max_examples=200, deadline=None)
@given(
    review=st.integers(min_value=1, max_value=30),
    notice=st.integers(min_value=1, max_value=30),
    payout=st.integers(min_value=1, max_value=120),
)
def test_r9_r10_r14_shortened_policy_keeps_its_values(
    review: int, notice: int, payout: int
) -> None:
    """R9, R10, R14: a demo may shorten the durations; the windows follow."""
    policy = ProgramPolicy(review_business_days=review, days_per_notice=notice, payout_days=payout)
    assert policy.notice_window == timedelta(days=notice)
    assert policy.payout_window == timedelta(days=payout)
    assert policy.review_business_days == review
