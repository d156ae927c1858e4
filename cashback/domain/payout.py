"""When a claim may be paid (R14, R15) and how bank details are judged (R11, R12)."""

from __future__ import annotations

from datetime import date, timedelta
from enum import StrEnum

from cashback.domain.names import names_match


def first_payable_day(sale_date: date, return_window_days: int) -> date:
    """R15: the first day on which the products can no longer be returned: the day after the
    return window (`return_window_days` from the sale date) has ended."""
    return sale_date + timedelta(days=return_window_days + 1)


def payout_date(valid_bank_details_on: date, sale_date: date, return_window_days: int) -> date:
    """R14, R15: the later of the day valid bank details arrived and the first payable day."""
    return max(valid_bank_details_on, first_payable_day(sale_date, return_window_days))


def payout_due(final_confirmation_on: date, payout_days: int) -> date:
    """R14: the last day of the payout bound, `payout_days` after the final confirmation."""
    return final_confirmation_on + timedelta(days=payout_days)


class HolderType(StrEnum):
    COMPANY = "company"
    INDIVIDUAL = "individual"


class BankDetailsJudgement(StrEnum):
    VALID = "valid"
    INDIVIDUAL_ACCOUNT = "individual_account"  # R12: the claim is cancelled
    NAME_MISMATCH = "name_mismatch"  # R11: the reseller is asked to correct them


def judge_bank_details(
    holder_type: HolderType, holder_name: str, reseller_name: str
) -> BankDetailsJudgement:
    """R11, R12: the recipient must be a company named exactly like the reseller."""
    if holder_type is HolderType.INDIVIDUAL:
        return BankDetailsJudgement.INDIVIDUAL_ACCOUNT
    if not names_match(holder_name, reseller_name):
        return BankDetailsJudgement.NAME_MISMATCH
    return BankDetailsJudgement.VALID
