"""Offer budgets (D7) as application services: operators set and top up an offer's budget
(claims waiting for one are told at once), and read the budget-use report and the accruals,
from the database. The API and the command line call these; the rules are in
cashback/domain/budgets.py, the SQL in cashback/db/budgets.py."""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Sequence
from dataclasses import astuple, dataclass, fields
from datetime import date

from anyio import to_thread
from sqlalchemy import select
from sqlalchemy.orm import Session
from temporalio.client import Client
from temporalio.service import RPCError

from cashback.db import Database
from cashback.db.budgets import BudgetBelowUse, BudgetRepository, UnknownOffer
from cashback.db.tables import Claim, Offer
from cashback.domain.budgets import BudgetUse, accruals
from cashback.domain.status import ClaimStatus
from cashback.refusals import Refused

log = logging.getLogger(__name__)

# The workflow's signal (workflows/claim.py `budget_topped_up`).
TOPPED_UP_SIGNAL = "budget_topped_up"


class BudgetRefused(Refused):
    """The budget was not changed: a stable code, an HTTP-like status, and why."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(code, detail)
        self.status = status


@dataclass(frozen=True)
class BudgetLine:
    """D7: one offer's budget use, in minor units of its currency (budget and remaining are
    None for an offer without a budget)."""

    offer_id: str
    offer_name: str
    currency: str
    budget: int | None
    committed: int
    paid: int
    released: int
    remaining: int | None

    @classmethod
    def of(cls, offer: Offer, use: BudgetUse) -> BudgetLine:
        return cls(
            offer_id=offer.id,
            offer_name=offer.name,
            currency=offer.currency,
            budget=use.budget,
            committed=use.committed,
            paid=use.paid,
            released=use.released,
            remaining=use.remaining,
        )


@dataclass(frozen=True)
class AccrualLine:
    """D7: at the end of `month`, approved and not yet paid nor released for the offer."""

    offer_id: str
    currency: str
    month: str  # YYYY-MM
    accrued: int
    claims: int


@dataclass(frozen=True)
class BudgetChanged:
    """The offer's budget use after the change, and the claims waiting for budget that were
    told (each tries its approval again) or could not be reached (an operator decides)."""

    line: BudgetLine
    claims_told: tuple[str, ...]
    claims_not_reached: tuple[str, ...]


def _change(
    database: Database, offer_id: str, operator: str, to: int | None, top_up: int | None
) -> tuple[BudgetLine, list[tuple[str, str]]]:
    with database.transaction() as session:
        try:
            offer, use = BudgetRepository(session).change_budget(
                offer_id, operator, to=to, top_up=top_up
            )
        except UnknownOffer:
            raise BudgetRefused(404, "not_found", f"offer {offer_id} was not found") from None
        except BudgetBelowUse as error:
            raise BudgetRefused(409, "budget_below_use", str(error)) from None
        waiting = session.execute(
            select(Claim.id, Claim.workflow_id)
            .where(
                Claim.offer_id == offer_id,
                Claim.awaiting_budget.is_(True),
                Claim.status == ClaimStatus.UNDER_REVIEW,
            )
            .order_by(Claim.created_at)
        ).all()
        return BudgetLine.of(offer, use), [(claim_id, wf) for claim_id, wf in waiting]


async def change_budget(
    database: Database,
    temporal: Client,
    offer_id: str,
    operator: str,
    *,
    to: int | None = None,
    top_up: int | None = None,
) -> BudgetChanged:
    """D7: set the offer's budget `to` an amount, or `top_up` it, recorded with the operator;
    then every claim of the offer waiting for budget is signalled to try its approval again.
    Raises `BudgetRefused` (404 unknown offer, 409 below what is committed and paid)."""
    line, waiting = await to_thread.run_sync(_change, database, offer_id, operator, to, top_up)
    told: list[str] = []
    not_reached: list[str] = []
    for claim_id, workflow_id in waiting:
        try:
            await temporal.get_workflow_handle(workflow_id).signal(TOPPED_UP_SIGNAL)
            told.append(claim_id)
        except RPCError as error:
            log.warning("claim %s was not told of the top-up: %s", claim_id, error.status.name)
            not_reached.append(claim_id)
    return BudgetChanged(line, tuple(told), tuple(not_reached))


def budget_lines(session: Session, offer_id: str | None = None) -> list[BudgetLine]:
    """D7: every offer's (or one offer's) budget use, by offer id, within the caller's session
    (the budget-use report of cashback/reports.py reads it here too)."""
    return [
        BudgetLine.of(offer, use)
        for offer, use in BudgetRepository(session).uses()
        if offer_id is None or offer.id == offer_id
    ]


def budget_use(database: Database) -> list[BudgetLine]:
    """D7: every offer's budget, committed, paid, released and remaining, by offer id."""
    with database.reading() as session:
        return budget_lines(session)


def accrual_lines(database: Database, through: date) -> list[AccrualLine]:
    """D7: per offer and month (from its first approval's to `through`'s), what was approved
    by the month's end and not yet paid nor released then."""
    with database.reading() as session:
        repository = BudgetRepository(session)
        currencies = {offer.id: offer.currency for offer, _ in repository.uses()}
        commitments = repository.commitments()
    return [
        AccrualLine(offer_id, currencies[offer_id], f"{row.month:%Y-%m}", row.amount, row.claims)
        for offer_id in sorted(commitments)
        for row in accruals(commitments[offer_id], through)
    ]


def as_csv(rows: Sequence[BudgetLine] | Sequence[AccrualLine], kind: type) -> str:
    """The rows as CSV with a header of the fields' names; amounts in minor units, an empty
    cell for no budget."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(field.name for field in fields(kind))
    for row in rows:
        writer.writerow(_cell(value) for value in astuple(row))
    return buffer.getvalue()


def _cell(value: object) -> object:
    """An empty cell for None; text a spreadsheet will not run as a formula (CSV injection)."""
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
