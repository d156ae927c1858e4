"""SEPA credit transfers as the program sends them (R14, R16, D5): the TARGET2 calendar that
execution dates keep, the EndToEndId that carries a payout's idempotency key, amounts as the
files write them, and what an ISO 20022 status or reason code in the bank's answer means.

The `holidays` tables change between releases; nothing here is called by a workflow (payment
runs are prepared by operators, outside any claim's history).
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from functools import lru_cache

import holidays

from cashback.domain.money import minor_unit_exponent

# The program's constant prefix of every payout idempotency key (activities.payments).
KEY_PREFIX = "cashback/"
MAX_END_TO_END_ID = 35  # ISO 20022 Max35Text


@lru_cache(maxsize=1)
def _target2_holidays() -> holidays.HolidayBase:
    return holidays.financial_holidays("XECB")


def is_target2_business_day(day: date) -> bool:
    """R14: TARGET2 settles Monday to Friday except 1 January, Good Friday, Easter Monday,
    1 May, 25 and 26 December (the ECB calendar)."""
    return day.weekday() < 5 and day not in _target2_holidays()


def execution_date(on_or_after: date) -> date:
    """R14: the requested execution date of a payment run: the first TARGET2 business day on or
    after `on_or_after`."""
    day = on_or_after
    while not is_target2_business_day(day):
        day += timedelta(days=1)
    return day


def end_to_end_id(idempotency_key: str) -> str:
    """D5: a transfer's EndToEndId is the payout's idempotency key in SEPA's characters: the
    constant `cashback/` prefix left out (Max35Text) and `_` (not in the SEPA character set)
    written `-`. Claim ids are `c_` and hex digits, so no two keys share an EndToEndId."""
    if not idempotency_key.startswith(KEY_PREFIX):
        raise ValueError(f"{idempotency_key!r} is not a payout idempotency key")
    converted = idempotency_key.removeprefix(KEY_PREFIX).replace("_", "-")
    if len(converted) > MAX_END_TO_END_ID or not converted or "//" in converted:
        raise ValueError(f"{idempotency_key!r} does not make an EndToEndId (Max35Text)")
    return converted


def decimal_amount(minor_units: int, currency: str) -> str:
    """D4: an amount as ISO 20022 writes it: `1234` cents of EUR is `12.34`."""
    exponent = minor_unit_exponent(currency)
    sign = "-" if minor_units < 0 else ""
    units, minor = divmod(abs(minor_units), 10**exponent)
    return f"{sign}{units}.{minor:0{exponent}d}" if exponent else f"{sign}{units}"


def minor_units(amount: str, currency: str) -> int:
    """D4: a file's decimal amount in integer minor units; more decimals than the currency has,
    or anything that is not a plain decimal number, is refused (ValueError)."""
    text = amount.strip()
    try:
        value = Decimal(text)
    except InvalidOperation as error:
        raise ValueError(f"{amount!r} is not an amount") from error
    if not value.is_finite() or "e" in text.lower():
        raise ValueError(f"{amount!r} is not an amount")
    scaled = value.scaleb(minor_unit_exponent(currency))
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{amount!r} has more decimals than {currency} has")
    return int(scaled)


class AnswerKind(StrEnum):
    """What a bank's answer to one transfer means for the claim."""

    PAID = "paid"  # accepted, settled or booked: R14
    REJECTED = "rejected"  # refused for the bank details: R16's notices
    TRANSIENT = "transient"  # the bank could not execute it now: sent again in a later run
    AMBIGUOUS = "ambiguous"  # nothing safe follows from it: the operators decide
    PENDING = "pending"  # received or technically validated only: nothing changes yet


# pain.002 TxSts / camt.054 entry status codes.
ACCEPTED_STATUSES = frozenset({"ACCP", "ACSC", "ACSP", "ACWC", "BOOK"})
PENDING_STATUSES = frozenset({"ACTC", "RCVD", "PDNG", "PART", "INFO"})
REJECTED_STATUS = "RJCT"

# ISO 20022 external status reason codes, by what they mean for the claim.
BANK_DETAIL_REASONS: dict[str, str] = {
    "AC01": "incorrect account number",
    "AC03": "invalid creditor account number",
    "AC04": "account closed",
    "AC06": "account blocked",
    "AC13": "invalid debtor account type",
    "BE01": "account holder name inconsistent with the account",
    "BE04": "creditor address missing or incorrect",
    "MD07": "end customer deceased",
    "RC01": "bank identifier incorrect",
}
TRANSIENT_REASONS: dict[str, str] = {
    "AB05": "timeout at the creditor agent",
    "AB06": "timeout at the instructed agent",
    "AB07": "offline agent",
    "AB08": "offline creditor agent",
    "AM05": "duplication",
    "CUTA": "cancelled upon unable to apply",
    "TECH": "technical problem at the bank",
}
AMBIGUOUS_REASONS: dict[str, str] = {
    "FRAD": "fraudulent origin",
    "MS02": "reason not specified by the creditor",
    "MS03": "reason not specified by the agent",
    "NARR": "narrative reason",
}


def answer_kind(status: str, reason: str | None) -> AnswerKind:
    """R14, R16: what a transfer's status (`ACSC`, `BOOK`, `RJCT`...) and reason code mean. A
    rejection or return whose reason the program does not know is ambiguous: the operators
    decide, nothing is guessed."""
    if status in ACCEPTED_STATUSES:
        return AnswerKind.PAID
    if status in PENDING_STATUSES:
        return AnswerKind.PENDING
    if reason in BANK_DETAIL_REASONS:
        return AnswerKind.REJECTED
    if reason in TRANSIENT_REASONS:
        return AnswerKind.TRANSIENT
    return AnswerKind.AMBIGUOUS


def reason_text(reason: str | None) -> str:
    """The reason code's meaning in words, empty for an unknown code."""
    code = reason or ""
    return (
        BANK_DETAIL_REASONS.get(code)
        or TRANSIENT_REASONS.get(code)
        or AMBIGUOUS_REASONS.get(code)
        or ""
    )
