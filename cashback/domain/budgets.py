"""D7: an offer's budget. An approval commits its amount against the budget; a payout consumes
the commitment; a rejection, cancellation or forfeit releases it. What is committed and paid
never exceeds the budget; accruals are what was approved and is not yet paid, at a month's end.

Amounts are integer minor units of the offer's currency (D4).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum


class CommitmentState(StrEnum):
    """Where one claim's commitment stands (D7)."""

    COMMITTED = "committed"  # approved, not yet paid
    PAID = "paid"  # the payout consumed it
    RELEASED = "released"  # cancelled or forfeited: the budget has it back


@dataclass(frozen=True)
class BudgetUse:
    """D7: one offer's budget (None: the offer has none) and what its claims did with it.
    `committed` is approved and not yet paid; every commitment ever made is in exactly one of
    committed, paid and released."""

    budget: int | None
    committed: int = 0
    paid: int = 0
    released: int = 0

    @property
    def remaining(self) -> int | None:
        """What further approvals may still commit; None without a budget."""
        if self.budget is None:
            return None
        return self.budget - self.committed - self.paid

    @property
    def approved(self) -> int:
        """Every amount ever committed: committed + paid + released."""
        return self.committed + self.paid + self.released

    def covers(self, amount: int) -> bool:
        """D7: an approval of `amount` fits in what remains (always, without a budget)."""
        if amount < 0:
            raise ValueError("an approval cannot commit a negative amount")
        remaining = self.remaining
        return remaining is None or amount <= remaining


@dataclass(frozen=True)
class CommitAnswer:
    """Whether an approval's amount was committed (now, or by an earlier attempt), and the
    offer's budget use afterwards, in `currency`."""

    committed: bool
    use: BudgetUse
    currency: str


@dataclass(frozen=True)
class Commitment:
    """One claim's commitment as the accruals need it: its amount, the day it was approved,
    and the day it was paid or released (None while committed)."""

    amount: int
    committed_on: date
    settled_on: date | None = None


@dataclass(frozen=True)
class MonthlyAccrual:
    """D7: at the end of `month` (its first day), `amount` was approved and not yet paid nor
    released, over `claims` claims."""

    month: date
    amount: int
    claims: int


def month_of(day: date) -> date:
    return day.replace(day=1)


def _next_month(month: date) -> date:
    return (month + timedelta(days=32)).replace(day=1)


def accruals(commitments: Iterable[Commitment], through: date) -> list[MonthlyAccrual]:
    """D7: for each month from the first approval's to `through`'s, what was approved by its
    end and neither paid nor released by then. A commitment settled on the last day of a month
    no longer counts at that month's end."""
    held = list(commitments)
    if not held:
        return []
    month = month_of(min(c.committed_on for c in held))
    last = month_of(through)
    rows = []
    while month <= last:
        end = _next_month(month)  # the first day after the month
        open_ = [
            c
            for c in held
            if c.committed_on < end and (c.settled_on is None or c.settled_on >= end)
        ]
        rows.append(MonthlyAccrual(month, sum(c.amount for c in open_), len(open_)))
        month = end
    return rows
