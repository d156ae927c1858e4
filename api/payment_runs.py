"""The operators' payment runs (R14, R16, D5): prepare a SEPA credit transfer file of the orders
due, release it as a second operator (four eyes), read its file and its claims. The routes
translate HTTP to `cashback.payment_runs`."""

from __future__ import annotations

from datetime import date, datetime

from fastapi import APIRouter, Response
from pydantic import BaseModel

from api.deps import OperatorUser, ServicesDep
from api.errors import ApiError, error_responses
from cashback.db.tables import PaymentRunStatus
from cashback.payment_runs import Refusal, RunRefused, RunSummary

router = APIRouter(tags=["payment runs"])

_STATUS = {
    Refusal.NOT_FOUND: 404,
    Refusal.CONFLICT: 409,
    Refusal.FORBIDDEN: 403,
    Refusal.INVALID: 422,
    Refusal.TOO_LARGE: 413,
    Refusal.UNAVAILABLE: 503,
}


def refused(refusal: RunRefused) -> ApiError:
    return ApiError(_STATUS[refusal.kind], refusal.code, refusal.detail)


class PaymentRunRead(BaseModel):
    run_id: str
    message_id: str
    status: PaymentRunStatus
    debtor_iban_masked: str
    currency: str
    execution_date: date
    number_of_transactions: int
    control_sum_minor_units: int
    file_sha256: str
    prepared_by: str
    prepared_at: datetime
    released_by: str | None
    released_at: datetime | None
    sent_at: datetime | None

    @classmethod
    def of(cls, run: RunSummary) -> PaymentRunRead:
        return cls.model_validate(run, from_attributes=True)


@router.get(
    "/operator/payment-runs",
    response_model=list[PaymentRunRead],
    responses=error_responses(401, 403),
)
def list_payment_runs(user: OperatorUser, services: ServicesDep) -> list[PaymentRunRead]:
    """R14: the payment runs, newest first, with their state and control sums."""
    return [PaymentRunRead.of(run) for run in services.payment_runs.runs()]


@router.post(
    "/operator/payment-runs",
    status_code=201,
    response_model=PaymentRunRead,
    responses=error_responses(401, 403, 409),
)
def prepare_payment_run(user: OperatorUser, services: ServicesDep) -> PaymentRunRead:
    """R14, D5: collect the payment orders due into a `pain.001.001.09` file for the next
    TARGET2 business day. 409 while another run of the debtor account waits for release, or
    when nothing is due. A second operator releases it."""
    try:
        return PaymentRunRead.of(services.payment_runs.prepare(user.email))
    except RunRefused as refusal:
        raise refused(refusal) from None


@router.get(
    "/operator/payment-runs/{run_id}",
    response_model=PaymentRunRead,
    responses=error_responses(401, 403, 404),
)
def get_payment_run(run_id: str, user: OperatorUser, services: ServicesDep) -> PaymentRunRead:
    try:
        return PaymentRunRead.of(services.payment_runs.run(run_id))
    except RunRefused as refusal:
        raise refused(refusal) from None


@router.post(
    "/operator/payment-runs/{run_id}/release",
    response_model=PaymentRunRead,
    responses=error_responses(401, 403, 404, 409, 503),
)
def release_payment_run(run_id: str, user: OperatorUser, services: ServicesDep) -> PaymentRunRead:
    """R14, four eyes: release a prepared run; its file goes to the bank channel unchanged.
    403 for the operator who prepared it; 409 for a run released already or discarded."""
    try:
        return PaymentRunRead.of(services.payment_runs.release(run_id, user.email))
    except RunRefused as refusal:
        raise refused(refusal) from None


@router.post(
    "/operator/payment-runs/{run_id}/discard",
    response_model=PaymentRunRead,
    responses=error_responses(401, 403, 404, 409),
)
def discard_payment_run(run_id: str, user: OperatorUser, services: ServicesDep) -> PaymentRunRead:
    """A prepared run that will not be released: its orders go back to the queue."""
    try:
        return PaymentRunRead.of(services.payment_runs.discard(run_id, user.email))
    except RunRefused as refusal:
        raise refused(refusal) from None


@router.get(
    "/operator/payment-runs/{run_id}/file",
    response_class=Response,
    responses={200: {"content": {"application/xml": {}}}, **error_responses(401, 403, 404, 409)},
)
def payment_run_file(run_id: str, user: OperatorUser, services: ServicesDep) -> Response:
    """The run's `pain.001.001.09` file, as built (checked against its recorded SHA-256)."""
    try:
        name, content = services.payment_runs.file(run_id)
    except RunRefused as refusal:
        raise refused(refusal) from None
    return Response(
        content,
        media_type="application/xml",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get(
    "/operator/payment-runs/{run_id}/claims",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}, **error_responses(401, 403, 404, 503)},
)
def payment_run_claims(run_id: str, user: OperatorUser, services: ServicesDep) -> Response:
    """The run's claims: claim, EndToEndId, amount in minor units, currency, masked IBAN."""
    try:
        content = services.payment_runs.claims_csv(run_id)
    except RunRefused as refusal:
        raise refused(refusal) from None
    return Response(content, media_type="text/csv; charset=utf-8")
