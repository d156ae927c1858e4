"""Offer budgets (D7), for operators: set or top up an offer's budget, and the budget-use
report and the accruals as JSON or CSV, read from the database. The routes translate HTTP to
cashback/budgets.py."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from api.deps import OperatorUser, ServicesDep
from api.errors import ApiError, error_responses
from cashback import budgets
from cashback.budgets import AccrualLine, BudgetChanged, BudgetLine, BudgetRefused

router = APIRouter(tags=["budgets"])

MAX_MINOR_UNITS = 10**15


class BudgetSet(BaseModel):
    budget_minor_units: int = Field(
        ge=0, le=MAX_MINOR_UNITS, description="D7: the offer's budget, minor units of its currency"
    )


class BudgetTopUp(BaseModel):
    amount_minor_units: int = Field(
        ge=1,
        le=MAX_MINOR_UNITS,
        description="D7: added to the budget (an offer without one gets one)",
    )


class BudgetLineRead(BaseModel):
    """D7: an offer's budget use, in minor units of its currency; `budget` and `remaining`
    are null for an offer without a budget. Every amount ever approved is in exactly one of
    committed (not yet paid), paid and released (rejected, cancelled or forfeited)."""

    offer_id: str
    offer_name: str
    currency: str
    budget: int | None
    committed: int
    paid: int
    released: int
    remaining: int | None

    @classmethod
    def of(cls, line: BudgetLine) -> BudgetLineRead:
        return cls.model_validate(line, from_attributes=True)


class BudgetChangedRead(BudgetLineRead):
    claims_told: list[str] = Field(
        description="claims that waited for budget and now try their approval again"
    )
    claims_not_reached: list[str] = Field(
        description="claims waiting for budget the workflow service did not reach; decide them"
    )

    @classmethod
    def changed(cls, change: BudgetChanged) -> BudgetChangedRead:
        return cls(
            **BudgetLineRead.of(change.line).model_dump(),
            claims_told=list(change.claims_told),
            claims_not_reached=list(change.claims_not_reached),
        )


class BudgetUseReport(BaseModel):
    offers: list[BudgetLineRead]


class AccrualRead(BaseModel):
    offer_id: str
    currency: str
    month: str = Field(description="YYYY-MM")
    accrued: int = Field(description="approved by the month's end, neither paid nor released")
    claims: int


class AccrualsReport(BaseModel):
    through: date
    accruals: list[AccrualRead]


def _refused(error: BudgetRefused) -> ApiError:
    return ApiError(error.status, error.code, error.detail)


@router.put(
    "/operator/offers/{offer_id}/budget",
    response_model=BudgetChangedRead,
    responses=error_responses(400, 401, 403, 404, 409, 422),
)
async def set_budget(
    offer_id: str, body: BudgetSet, user: OperatorUser, services: ServicesDep
) -> BudgetChangedRead:
    """D7: set the offer's budget (never below what is committed and paid: 409). Claims
    waiting for budget try their approval again."""
    try:
        change = await budgets.change_budget(
            services.database, services.temporal, offer_id, user.email, to=body.budget_minor_units
        )
    except BudgetRefused as error:
        raise _refused(error) from None
    return BudgetChangedRead.changed(change)


@router.post(
    "/operator/offers/{offer_id}/budget/top-up",
    response_model=BudgetChangedRead,
    responses=error_responses(400, 401, 403, 404, 422),
)
async def top_up_budget(
    offer_id: str, body: BudgetTopUp, user: OperatorUser, services: ServicesDep
) -> BudgetChangedRead:
    """D7: add to the offer's budget. Claims waiting for budget try their approval again."""
    try:
        change = await budgets.change_budget(
            services.database,
            services.temporal,
            offer_id,
            user.email,
            top_up=body.amount_minor_units,
        )
    except BudgetRefused as error:
        raise _refused(error) from None
    return BudgetChangedRead.changed(change)


def _csv(text: str, name: str) -> Response:
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {}}, "description": "the report as CSV"}
}


@router.get(
    "/operator/budgets", response_model=BudgetUseReport, responses=error_responses(401, 403)
)
def budget_use(user: OperatorUser, services: ServicesDep) -> BudgetUseReport:
    """D7: the budget-use report: per offer its budget, committed, paid, released and
    remaining (minor units), from the database."""
    return BudgetUseReport(
        offers=[BudgetLineRead.of(line) for line in budgets.budget_use(services.database)]
    )


@router.get(
    "/operator/budgets.csv",
    response_class=Response,
    responses={**CSV_RESPONSE, **error_responses(401, 403)},
)
def budget_use_csv(user: OperatorUser, services: ServicesDep) -> Response:
    """D7: the budget-use report as CSV (UTF-8), one row per offer."""
    lines = budgets.budget_use(services.database)
    return _csv(budgets.as_csv(lines, BudgetLine), "budget-use.csv")


Through = Annotated[
    date | None,
    Query(description="the last month listed (a day of it); today's month if not given or later"),
]


def _accruals(services: ServicesDep, through: date | None) -> tuple[date, list[AccrualLine]]:
    today = datetime.now(UTC).date()
    day = min(through, today) if through else today  # later months would repeat this one's
    return day, budgets.accrual_lines(services.database, day)


@router.get(
    "/operator/budgets/accruals",
    response_model=AccrualsReport,
    responses=error_responses(401, 403, 422),
)
def accruals(user: OperatorUser, services: ServicesDep, through: Through = None) -> AccrualsReport:
    """D7: accruals: per offer and month, the amount approved by the month's end and not yet
    paid (nor released) then."""
    day, lines = _accruals(services, through)
    return AccrualsReport(
        through=day, accruals=[AccrualRead.model_validate(x, from_attributes=True) for x in lines]
    )


@router.get(
    "/operator/budgets/accruals.csv",
    response_class=Response,
    responses={**CSV_RESPONSE, **error_responses(401, 403, 422)},
)
def accruals_csv(user: OperatorUser, services: ServicesDep, through: Through = None) -> Response:
    """D7: the accruals as CSV (UTF-8), one row per offer and month."""
    _, lines = _accruals(services, through)
    return _csv(budgets.as_csv(lines, AccrualLine), "accruals.csv")
