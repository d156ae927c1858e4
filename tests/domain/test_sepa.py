"""R14, R16, D4, D5: the TARGET2 calendar of payment runs, the EndToEndId of a payout, amounts
as ISO 20022 files write them, and what a bank's status and reason codes mean."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from activities.payments import payout_idempotency_key
from cashback.domain.sepa import (
    AMBIGUOUS_REASONS,
    BANK_DETAIL_REASONS,
    TRANSIENT_REASONS,
    AnswerKind,
    answer_kind,
    decimal_amount,
    end_to_end_id,
    execution_date,
    is_target2_business_day,
    minor_units,
    reason_text,
)


@pytest.mark.parametrize(
    ("day", "business"),
    [
        (date(2026, 12, 24), True),  # Thursday, Christmas Eve: TARGET2 is open
        (date(2026, 12, 25), False),  # Christmas Day
        (date(2026, 12, 26), False),  # 26 December (a Saturday too)
        (date(2027, 1, 1), False),  # New Year's Day
        (date(2027, 3, 26), False),  # Good Friday
        (date(2027, 3, 29), False),  # Easter Monday
        (date(2027, 5, 1), False),  # Labour Day (a Saturday)
        (date(2028, 5, 1), False),  # Labour Day on a Monday
        (date(2028, 12, 26), False),  # 26 December on a Tuesday
        (date(2027, 10, 3), False),  # a Sunday (and German Unity Day: not a TARGET2 holiday)
        (date(2026, 10, 5), True),  # a Monday
        (date(2027, 11, 1), True),  # All Saints: a holiday in some countries, not in TARGET2
    ],
)
def test_r14_target2_business_days(day: date, business: bool) -> None:
    """R14: TARGET2 is closed on weekends, 1 January, Good Friday, Easter Monday, 1 May, 25 and
    26 December, and open on every other day, national holidays included."""
    assert is_target2_business_day(day) is business


@pytest.mark.parametrize(
    ("asked", "executed"),
    [
        (date(2026, 12, 24), date(2026, 12, 24)),  # a business day is kept
        (date(2026, 12, 25), date(2026, 12, 28)),  # Christmas, 26th, weekend: Monday 28th
        (date(2026, 12, 31), date(2026, 12, 31)),
        (date(2027, 1, 1), date(2027, 1, 4)),  # New Year on Friday: Monday
        (date(2027, 3, 26), date(2027, 3, 30)),  # Good Friday to after Easter Monday
        (date(2028, 4, 29), date(2028, 5, 2)),  # Saturday, Sunday, 1 May: Tuesday
    ],
)
def test_r14_the_execution_date_skips_target2_holidays(asked: date, executed: date) -> None:
    """R14: a run is requested for the first TARGET2 business day on or after its day."""
    assert execution_date(asked) == executed


@given(st.dates(min_value=date(2026, 1, 1), max_value=date(2030, 12, 31)))
def test_r14_the_execution_date_is_the_first_business_day_not_before(day: date) -> None:
    """R14: the execution date is a TARGET2 business day, never earlier than asked, and no
    business day lies between."""
    executed = execution_date(day)
    assert executed >= day
    assert is_target2_business_day(executed)
    assert all(
        not is_target2_business_day(day + timedelta(days=n)) for n in range((executed - day).days)
    )
    assert (executed - day).days <= 4  # the longest closure: Good Friday to Easter Monday


def test_d5_the_end_to_end_id_carries_the_idempotency_key() -> None:
    """D5: the EndToEndId is the payout's idempotency key in SEPA's characters and within
    ISO 20022's 35 characters; a key that is not a payout's is refused."""
    key = payout_idempotency_key("c_0123456789abcdef", 3)
    assert end_to_end_id(key) == "c-0123456789abcdef/payout/3"
    assert len(end_to_end_id(payout_idempotency_key("c_0123456789abcdef", 99))) <= 35
    with pytest.raises(ValueError, match="not a payout idempotency key"):
        end_to_end_id("other/c_0123456789abcdef/payout/1")
    with pytest.raises(ValueError, match="Max35Text"):
        end_to_end_id("cashback/" + "x" * 36)


@given(
    st.text(alphabet="0123456789abcdef", min_size=16, max_size=16),
    st.text(alphabet="0123456789abcdef", min_size=16, max_size=16),
    st.integers(1, 99),
    st.integers(1, 99),
)
def test_d5_two_payouts_never_share_an_end_to_end_id(a: str, b: str, m: int, n: int) -> None:
    """D5: distinct payouts (claim and attempt) have distinct EndToEndIds."""
    first = end_to_end_id(payout_idempotency_key(f"c_{a}", m))
    second = end_to_end_id(payout_idempotency_key(f"c_{b}", n))
    assert (first == second) == ((a, m) == (b, n))


@pytest.mark.parametrize(
    ("minor", "currency", "text"),
    [(25_000, "EUR", "250.00"), (1, "EUR", "0.01"), (1999, "EUR", "19.99"), (500, "JPY", "500")],
)
def test_d4_amounts_as_files_write_them(minor: int, currency: str, text: str) -> None:
    """D4: integer minor units, written with the currency's own number of decimals."""
    assert decimal_amount(minor, currency) == text
    assert minor_units(text, currency) == minor


@given(st.integers(min_value=1, max_value=10**12))
def test_d4_amounts_round_trip(minor: int) -> None:
    """D4: an amount written and read back is the same number of cents."""
    assert minor_units(decimal_amount(minor, "EUR"), "EUR") == minor


@pytest.mark.parametrize("bad", ["12.345", "1e3", "NaN", "Infinity", "twelve", ""])
def test_d4_an_amount_that_is_not_plain_decimals_is_refused(bad: str) -> None:
    """D4: more decimals than the currency has, exponents and words are no amounts."""
    with pytest.raises(ValueError, match=r"amount|decimals"):
        minor_units(bad, "EUR")


def test_r14_r16_what_a_banks_answer_means() -> None:
    """R14: accepted, settled or booked is paid; R16: a rejection for the bank details asks for
    new details; a transient refusal is sent again; an ambiguous or unknown reason goes to the
    operators; a received or technically validated file changes nothing yet."""
    for status in ("ACCP", "ACSC", "ACSP", "ACWC", "BOOK"):
        assert answer_kind(status, None) is AnswerKind.PAID
    for status in ("ACTC", "RCVD", "PDNG"):
        assert answer_kind(status, None) is AnswerKind.PENDING
    assert {c for c in BANK_DETAIL_REASONS if answer_kind("RJCT", c) is AnswerKind.REJECTED} == {
        "AC01",
        "AC03",
        "AC04",
        "AC06",
        "AC13",
        "BE01",
        "BE04",
        "MD07",
        "RC01",
    }
    assert {c for c in TRANSIENT_REASONS if answer_kind("RJCT", c) is AnswerKind.TRANSIENT} == {
        "AB05",
        "AB06",
        "AB07",
        "AB08",
        "AM05",
        "CUTA",
        "TECH",
    }
    assert {c for c in AMBIGUOUS_REASONS if answer_kind("RJCT", c) is AnswerKind.AMBIGUOUS} == {
        "FRAD",
        "MS02",
        "MS03",
        "NARR",
    }
    assert answer_kind("RJCT", "ZZ99") is AnswerKind.AMBIGUOUS
    assert answer_kind("RJCT", None) is AnswerKind.AMBIGUOUS
    assert answer_kind("RTRN", "AC04") is AnswerKind.REJECTED  # a return for a closed account
    assert reason_text("AC04") == "account closed"
    assert reason_text("TECH") == "technical problem at the bank"
    assert reason_text("MS03") == "reason not specified by the agent"
    assert reason_text("ZZ99") == ""
    assert reason_text(None) == ""
