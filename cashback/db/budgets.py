"""Offer budgets (D7): each approval's commitment, its payout or release, and the operators'
changes of a budget.

An approval commits its amount in one transaction that holds the offer's lock: its `offers` row
locked with SELECT ... FOR UPDATE on PostgreSQL; on SQLite the whole database, taken by the
transaction's BEGIN IMMEDIATE (`Database.transaction`), as the R3 reservations do
(cashback/db/licensing.py). Approvals of one offer therefore commit one after the other, and
two racing for the last of a budget cannot both pass. A change of the budget takes the same
lock, so it never lands between another approval's check and its commitment.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cashback.db.session import Database
from cashback.db.tables import BudgetCommitment, Offer, OfferBudgetChange
from cashback.domain.budgets import BudgetUse, CommitAnswer, Commitment, CommitmentState
from cashback.domain.money import Money


class UnknownOffer(LookupError):
    """No offer has the id."""


class BudgetBelowUse(ValueError):
    """D7: a budget may not be set below what is committed and paid already."""

    def __init__(self, use: BudgetUse, currency: str) -> None:
        lowest = Money(minor_units=use.committed + use.paid, currency=currency)
        super().__init__(
            f"D7: {lowest.format()} of this offer's budget is committed or paid already; "
            "set a budget of at least that"
        )


class BudgetRepository:
    """Budgets and commitments within the caller's transaction (never commits)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def lock_offer(self, offer_id: str) -> Offer:
        """The offer, locked until the transaction ends (D7)."""
        offer = self._session.scalar(select(Offer).where(Offer.id == offer_id).with_for_update())
        if offer is None:
            raise UnknownOffer(f"no offer {offer_id}")
        return offer

    def use(self, offer: Offer) -> BudgetUse:
        """D7: the offer's budget and the sums of its commitments, by state."""
        sums = dict(
            self._session.execute(
                select(BudgetCommitment.state, func.sum(BudgetCommitment.amount_minor_units))
                .where(BudgetCommitment.offer_id == offer.id)
                .group_by(BudgetCommitment.state)
            ).all()
        )
        return BudgetUse(
            budget=offer.budget_minor_units,
            committed=int(sums.get(CommitmentState.COMMITTED) or 0),
            paid=int(sums.get(CommitmentState.PAID) or 0),
            released=int(sums.get(CommitmentState.RELEASED) or 0),
        )

    def commit(self, claim_id: str, offer_id: str, amount: Money) -> CommitAnswer:
        """D7: under the offer's lock, commit `amount` for `claim_id` if what remains of the
        budget covers it (always without a budget). A claim that committed already (a retried
        activity) keeps its commitment and is answered as committed."""
        offer = self.lock_offer(offer_id)
        if amount.currency != offer.currency:
            raise ValueError(f"the offer pays in {offer.currency}, not {amount.currency}")
        existing = self._session.get(BudgetCommitment, claim_id)
        if existing is not None and existing.state is not CommitmentState.RELEASED:
            return CommitAnswer(True, self.use(offer), offer.currency)
        use = self.use(offer)
        if not use.covers(amount.minor_units):
            return CommitAnswer(False, use, offer.currency)
        now = datetime.now(UTC)
        if existing is None:
            self._session.add(
                BudgetCommitment(
                    claim_id=claim_id,
                    offer_id=offer_id,
                    amount_minor_units=amount.minor_units,
                    currency=amount.currency,
                    state=CommitmentState.COMMITTED,
                    committed_at=now,
                )
            )
        else:  # approved again after a release: a new commitment
            existing.amount_minor_units = amount.minor_units
            existing.state = CommitmentState.COMMITTED
            existing.committed_at, existing.settled_at = now, None
        self._session.flush()
        return CommitAnswer(True, self.use(offer), offer.currency)

    def settle(self, claim_id: str, state: CommitmentState) -> None:
        """D7: a committed amount is paid (the payout consumed it) or released (a rejection,
        cancellation or forfeit); idempotent, and nothing happens to a claim that committed
        nothing (approved before budgets existed)."""
        if state is CommitmentState.COMMITTED:
            raise ValueError("settle to paid or released")
        commitment = self._session.get(BudgetCommitment, claim_id)
        if commitment is None or commitment.state is not CommitmentState.COMMITTED:
            return
        commitment.state = state
        commitment.settled_at = datetime.now(UTC)

    def reopen(self, claim_id: str) -> None:
        """D7, R16: the paid transfer came back, so the amount is committed again (the money is
        the program's until it is paid anew or released on a forfeit); idempotent, and nothing
        happens unless the claim's commitment is paid."""
        commitment = self._session.get(BudgetCommitment, claim_id)
        if commitment is None or commitment.state is not CommitmentState.PAID:
            return
        commitment.state = CommitmentState.COMMITTED
        commitment.settled_at = None

    def change_budget(
        self, offer_id: str, operator: str, *, to: int | None = None, top_up: int | None = None
    ) -> tuple[Offer, BudgetUse]:
        """D7: set the offer's budget `to` an amount, or `top_up` the budget it has (an offer
        without one gets one of `top_up`), under the offer's lock; recorded with the operator.
        Raises `BudgetBelowUse` when the new budget is below what is committed and paid."""
        if (to is None) == (top_up is None):
            raise ValueError("give either `to` or `top_up`")
        offer = self.lock_offer(offer_id)
        use = self.use(offer)
        if to is not None:
            budget, change, amount = to, "set", to
        else:
            assert top_up is not None
            budget, change, amount = (offer.budget_minor_units or 0) + top_up, "top_up", top_up
        if budget < use.committed + use.paid:
            raise BudgetBelowUse(use, offer.currency)
        offer.budget_minor_units = budget
        self._session.add(
            OfferBudgetChange(
                offer_id=offer_id,
                at=datetime.now(UTC),
                operator=operator,
                change=change,
                amount_minor_units=amount,
                budget_minor_units=budget,
            )
        )
        self._session.flush()
        return offer, self.use(offer)

    def uses(self) -> list[tuple[Offer, BudgetUse]]:
        """D7: every offer with its budget use, by offer id."""
        sums: dict[tuple[str, CommitmentState], int] = {
            (offer_id, state): int(total or 0)
            for offer_id, state, total in self._session.execute(
                select(
                    BudgetCommitment.offer_id,
                    BudgetCommitment.state,
                    func.sum(BudgetCommitment.amount_minor_units),
                ).group_by(BudgetCommitment.offer_id, BudgetCommitment.state)
            )
        }
        offers = self._session.scalars(select(Offer).order_by(Offer.id))
        return [
            (
                offer,
                BudgetUse(
                    budget=offer.budget_minor_units,
                    committed=sums.get((offer.id, CommitmentState.COMMITTED), 0),
                    paid=sums.get((offer.id, CommitmentState.PAID), 0),
                    released=sums.get((offer.id, CommitmentState.RELEASED), 0),
                ),
            )
            for offer in offers
        ]

    def commitments(self) -> dict[str, list[Commitment]]:
        """D7: every offer's commitments as the accruals read them (days in UTC)."""
        found: dict[str, list[Commitment]] = {}
        for row in self._session.scalars(
            select(BudgetCommitment).order_by(BudgetCommitment.committed_at)
        ):
            settled: date | None = row.settled_at.date() if row.settled_at else None
            found.setdefault(row.offer_id, []).append(
                Commitment(row.amount_minor_units, row.committed_at.date(), settled)
            )
        return found


class SqlBudgets:
    """`activities.budgets.BudgetLedger` on the database: one transaction per call."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def commit(self, claim_id: str, offer_id: str, amount: Money) -> CommitAnswer:
        with self._database.transaction() as session:
            return BudgetRepository(session).commit(claim_id, offer_id, amount)

    def settle(self, claim_id: str, state: CommitmentState) -> None:
        with self._database.transaction() as session:
            BudgetRepository(session).settle(claim_id, state)

    def reopen(self, claim_id: str) -> None:
        with self._database.transaction() as session:
            BudgetRepository(session).reopen(claim_id)
