"""Offer budgets (D7): an approval commits its amount against the offer's budget, atomically,
so that two approvals racing for the last of a budget cannot both pass; a payout consumes the
commitment; a cancellation or forfeit releases it; a transfer returned after it was paid commits it
again.

Each is one short database transaction, so the workflow runs them as local activities.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Protocol

from pydantic import BaseModel, ConfigDict
from temporalio import activity
from temporalio.common import RetryPolicy

from cashback.domain.budgets import CommitAnswer, CommitmentState
from cashback.domain.money import Money

TIMEOUT = timedelta(seconds=30)
RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(minutes=5),
    non_retryable_error_types=["ValueError", "UnknownOffer"],
)


class BudgetRequest(BaseModel):
    """An approval's amount, to commit against the offer's budget (D7)."""

    model_config = ConfigDict(frozen=True)

    claim_id: str
    offer_id: str
    amount: Money


class BudgetAnswer(BaseModel):
    """D7: whether the approval is committed; the budget and what remains of it after the
    attempt (None: the offer has no budget)."""

    model_config = ConfigDict(frozen=True)

    committed: bool
    budget: Money | None = None
    remaining: Money | None = None


class BudgetLedger(Protocol):
    def commit(self, claim_id: str, offer_id: str, amount: Money) -> CommitAnswer:
        """In one transaction, locked against other approvals of `offer_id`: commit `amount`
        if the budget's remainder covers it; a claim that committed already stays committed."""
        ...

    def settle(self, claim_id: str, state: CommitmentState) -> None:
        """Mark the claim's commitment paid or released; idempotent; nothing without one."""
        ...

    def reopen(self, claim_id: str) -> None:
        """A paid commitment whose transfer came back is committed again; idempotent; nothing
        unless the claim's commitment is paid."""
        ...


class BudgetActivities:
    def __init__(self, ledger: BudgetLedger) -> None:
        self._ledger = ledger

    @activity.defn(name="budgets.commit")
    def commit(self, request: BudgetRequest) -> BudgetAnswer:
        """D7: commit the approval's amount against the offer's budget, if it covers it."""
        answer = self._ledger.commit(request.claim_id, request.offer_id, request.amount)
        use, currency = answer.use, answer.currency
        remaining = use.remaining
        return BudgetAnswer(
            committed=answer.committed,
            budget=None if use.budget is None else Money(minor_units=use.budget, currency=currency),
            remaining=None
            if remaining is None
            else Money(minor_units=remaining, currency=currency),
        )

    @activity.defn(name="budgets.consume")
    def consume(self, claim_id: str) -> None:
        """D7: the payout consumed the claim's commitment."""
        self._ledger.settle(claim_id, CommitmentState.PAID)

    @activity.defn(name="budgets.release")
    def release(self, claim_id: str) -> None:
        """D7: a cancelled or forfeited claim gives its commitment back to the budget."""
        self._ledger.settle(claim_id, CommitmentState.RELEASED)

    @activity.defn(name="budgets.reopen")
    def reopen(self, claim_id: str) -> None:
        """D7: the paid transfer came back (R16): the amount is committed again until it is
        paid anew or released on a forfeit."""
        self._ledger.reopen(claim_id)
