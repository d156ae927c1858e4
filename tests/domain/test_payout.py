"""R14, R15: when a claim may be paid; R11, R12: how bank details are judged."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cashback.domain.names import names_match
from cashback.domain.payout import (
    BankDetailsJudgement,
    HolderType,
    first_payable_day,
    judge_bank_details,
    payout_date,
    payout_due,
)

days = st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31))
windows = st.integers(min_value=0, max_value=365)


# --- R15: right of return --------------------------------------------------------------------


def test_r15_first_payable_day_after_default_60_day_window() -> None:
    """R15: sold 2026-01-01, 60-day return window ends 2026-03-02; payable from 2026-03-03."""
    assert first_payable_day(date(2026, 1, 1), 60) == date(2026, 3, 3)


def test_r15_window_across_a_leap_day() -> None:
    """R15: sold 2028-01-15 (2028 is a leap year): window ends 2028-03-15, payable 2028-03-16."""
    assert first_payable_day(date(2028, 1, 15), 60) == date(2028, 3, 16)


def test_r15_zero_day_window_is_payable_the_next_day() -> None:
    """R15: with no right of return the products are payable the day after the sale."""
    assert first_payable_day(date(2026, 5, 31), 0) == date(2026, 6, 1)


@settings(max_examples=200, deadline=None)
@given(sale=days, window=windows)
def test_r15_never_payable_inside_the_return_window(sale: date, window: int) -> None:
    """R15: the first payable day lies after the last day of the return window, and is the day
    right after it."""
    first = first_payable_day(sale, window)
    assert first > sale + timedelta(days=window)
    assert first - timedelta(days=1) == sale + timedelta(days=window)


# --- R14: payout date and bound --------------------------------------------------------------


def test_r14_r15_payout_waits_for_the_return_window() -> None:
    """R14, R15: bank details valid on 2026-02-10, but returns possible until 2026-03-02:
    payout on 2026-03-03."""
    assert payout_date(date(2026, 2, 10), date(2026, 1, 1), 60) == date(2026, 3, 3)


def test_r14_payout_waits_for_valid_bank_details() -> None:
    """R14: payment only after valid bank details: return window long over, details valid on
    2026-06-10: payout on 2026-06-10."""
    assert payout_date(date(2026, 6, 10), date(2026, 1, 1), 60) == date(2026, 6, 10)


def test_r14_payout_due_45_days_after_final_confirmation() -> None:
    """R14: final confirmation on 2026-11-20: pay by 2027-01-04 (45 days, across the year end)."""
    assert payout_due(date(2026, 11, 20), 45) == date(2027, 1, 4)


@settings(max_examples=200, deadline=None)
@given(bank=days, sale=days, window=windows)
def test_r14_r15_payout_date_is_the_later_constraint(bank: date, sale: date, window: int) -> None:
    """R14, R15: the payout date is never before valid bank details nor inside the return
    window, and is the earliest day satisfying both."""
    paid = payout_date(bank, sale, window)
    first = first_payable_day(sale, window)
    assert paid >= bank
    assert paid >= first
    assert paid in {bank, first}


@settings(max_examples=200, deadline=None)
@given(confirmed=days, payout_days=st.integers(min_value=1, max_value=120))
def test_r14_payout_due_is_payout_days_after_confirmation(
    confirmed: date, payout_days: int
) -> None:
    """R14: the bound is exactly `payout_days` calendar days after the final confirmation."""
    due = payout_due(confirmed, payout_days)
    assert (due - confirmed).days == payout_days


# --- R11, R12: bank details ------------------------------------------------------------------


def test_r11_company_named_like_the_reseller_is_valid() -> None:
    """R11: a company account whose name equals the reseller's after normalising is valid."""
    judgement = judge_bank_details(HolderType.COMPANY, "ACME G.m.b.H.", "Acme GmbH")
    assert judgement is BankDetailsJudgement.VALID


@pytest.mark.parametrize("holder", ["Acme AG", "Acme Software GmbH", "", "..."])
def test_r11_company_with_another_name_is_a_mismatch(holder: str) -> None:
    """R11: a company account with a different (or empty) name must be corrected."""
    judgement = judge_bank_details(HolderType.COMPANY, holder, "Acme GmbH")
    assert judgement is BankDetailsJudgement.NAME_MISMATCH


@pytest.mark.parametrize("holder", ["Acme GmbH", "Max Mustermann"])
def test_r12_individual_account_is_always_cancelled(holder: str) -> None:
    """R12: an individual's account cancels the claim, even when it bears the reseller's name."""
    judgement = judge_bank_details(HolderType.INDIVIDUAL, holder, "Acme GmbH")
    assert judgement is BankDetailsJudgement.INDIVIDUAL_ACCOUNT


@settings(max_examples=200, deadline=None)
@given(holder=st.text(max_size=20), reseller=st.text(max_size=20))
def test_r11_r12_judgement_by_holder_type(holder: str, reseller: str) -> None:
    """R12: an individual is never valid; R11: a company is valid iff the names match."""
    assert (
        judge_bank_details(HolderType.INDIVIDUAL, holder, reseller)
        is BankDetailsJudgement.INDIVIDUAL_ACCOUNT
    )
    company = judge_bank_details(HolderType.COMPANY, holder, reseller)
    assert company in {BankDetailsJudgement.VALID, BankDetailsJudgement.NAME_MISMATCH}
    assert (company is BankDetailsJudgement.VALID) == names_match(holder, reseller)
    if holder == reseller and holder.isalpha():
        assert company is BankDetailsJudgement.VALID
