"""The operators' payment runs (R14, R16, D5): prepare a SEPA credit transfer file of the orders
due, release it as a second operator (four eyes), read its file and its claims. The routes
translate HTTP to `cashback.payment_runs`."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter, File, Response, UploadFile
from pydantic import BaseModel

from api.deps import OperatorUser, ServicesDep
from api.errors import ApiError, error_responses
from api.limits import MULTIPART_ALLOWANCE, BodyCap
from cashback.bank_answers import (
    BankFileImportReport,
    ImportedFile,
    InboxFile,
    complete_payments,
    import_inbox,
)
from cashback.db.tables import PaymentRunStatus
from cashback.payment_runs import Reconciliation, Refusal, RunRefused, RunSummary

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


# ---- the bank's answers ---------------------------------------------------------------------

MAX_BANK_FILE_BYTES = 8 * 1024 * 1024  # the setting's upper bound; the setting may be lower
BANK_FILE_CAP = BodyCap(
    MAX_BANK_FILE_BYTES + MULTIPART_ALLOWANCE,
    "file_too_large",
    f"a bank file may be at most {MAX_BANK_FILE_BYTES // (1024 * 1024)} MB",
)


@router.post(
    "/operator/bank-files",
    response_model=BankFileImportReport,
    responses=error_responses(400, 401, 403, 413, 422),
)
async def import_bank_file(
    user: OperatorUser,
    services: ServicesDep,
    file: Annotated[
        UploadFile, File(description="a pain.002 status report or a camt.054 notification")
    ],
) -> BankFileImportReport:
    """R14, R16, D5: import the bank's answer to released runs. Each entry is matched by its
    EndToEndId and applied once: paid; rejected or returned for the bank details (R16); sent
    again for a transient reason; escalated to the operators for an ambiguous one; a paid
    transfer returned later takes its claim back into R16 (`reopened`) while the claim watches
    for returns, else it is listed for the operators (`returned_after_payment`, `detail`). The same
    file again changes nothing (`duplicate`); a hostile or wrong file is refused whole (413,
    422) with nothing applied."""
    limit = services.bank_answers.max_bytes
    content = await file.read(limit + 1)
    try:
        imported = await to_thread.run_sync(services.bank_answers.import_file, content, user.email)
    except RunRefused as refusal:
        raise refused(refusal) from None
    await complete_payments(services.temporal, imported.completions, services.bank_answers)
    return imported.report


@router.get(
    "/operator/bank-files",
    response_model=list[ImportedFile],
    responses=error_responses(401, 403),
)
def list_bank_files(user: OperatorUser, services: ServicesDep) -> list[ImportedFile]:
    """The bank files imported, newest first: who imported each, when, and what each entry
    did."""
    return services.bank_answers.imported_files()


@router.post(
    "/operator/bank-files/inbox",
    response_model=list[InboxFile],
    responses=error_responses(401, 403),
)
async def import_bank_inbox(user: OperatorUser, services: ServicesDep) -> list[InboxFile]:
    """Import every file the bank channel dropped into the inbox folder, as uploads are; each
    is moved to `imported/` or `refused/` (with the reason beside it)."""
    inbox = services.settings.data_dir / "bank-inbox"
    results, completions = await to_thread.run_sync(
        import_inbox, services.bank_answers, inbox, user.email
    )
    await complete_payments(services.temporal, completions, services.bank_answers)
    return results


class EscalatedPaymentRead(BaseModel):
    claim_id: str
    end_to_end_id: str | None
    amount_minor_units: int
    currency: str
    reason_code: str
    run_id: str | None


@router.get(
    "/operator/payments/escalated",
    response_model=list[EscalatedPaymentRead],
    responses=error_responses(401, 403),
)
def escalated_payments(user: OperatorUser, services: ServicesDep) -> list[EscalatedPaymentRead]:
    """Payments the bank answered ambiguously (MS03, FRAD...): decide each with
    `POST /operator/claims/{id}/payment-result` (ACSC for paid, AC04... for new details)."""
    return [
        EscalatedPaymentRead.model_validate(p, from_attributes=True)
        for p in services.payment_runs.escalated()
    ]


@router.get(
    "/operator/payments/returned",
    response_model=list[EscalatedPaymentRead],
    responses=error_responses(401, 403),
)
def returned_payments(user: OperatorUser, services: ServicesDep) -> list[EscalatedPaymentRead]:
    """Payments the bank booked and later returned (a camt.054 return, e.g. AC04 for a closed
    account) whose claims stay PAID: they no longer watched for returns (R16). Contact the
    reseller for new details. A claim that took its return back (PAYMENT_FAILED, R16's
    notices) is not listed."""
    return [
        EscalatedPaymentRead.model_validate(p, from_attributes=True)
        for p in services.payment_runs.returned_after_payment()
    ]


# ---- reconciliation ------------------------------------------------------------------------


class AmountCount(BaseModel):
    count: int
    amount_minor_units: int


class ReconciledTransferRead(BaseModel):
    claim_id: str
    end_to_end_id: str
    amount_minor_units: int
    state: str
    reason_code: str | None


class ReconciliationRead(BaseModel):
    run: PaymentRunRead
    sent: AmountCount
    accepted: AmountCount
    rejected: AmountCount
    returned: AmountCount
    retried: AmountCount
    open: AmountCount
    transfers: list[ReconciledTransferRead]


def _reconciliation(run_id: str, services: ServicesDep) -> Reconciliation:
    try:
        return services.payment_runs.reconciliation(run_id)
    except RunRefused as refusal:
        raise refused(refusal) from None


@router.get(
    "/operator/payment-runs/{run_id}/reconciliation",
    response_model=ReconciliationRead,
    responses=error_responses(401, 403, 404),
)
def run_reconciliation(
    run_id: str, user: OperatorUser, services: ServicesDep
) -> ReconciliationRead:
    """R14: the run's transfers sent, accepted, rejected, returned, sent again in a later run
    (retried) and still open, counted and in minor units; the five add up to what was sent,
    the file's control sum."""
    done = _reconciliation(run_id, services)
    totals = {
        state: AmountCount(count=count, amount_minor_units=amount)
        for state, (count, amount) in done.totals.items()
    }
    return ReconciliationRead(
        run=PaymentRunRead.of(done.run),
        sent=AmountCount(count=done.sent[0], amount_minor_units=done.sent[1]),
        transfers=[
            ReconciledTransferRead.model_validate(t, from_attributes=True) for t in done.transfers
        ],
        **totals,
    )


@router.get(
    "/operator/payment-runs/{run_id}/reconciliation.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}, **error_responses(401, 403, 404)},
)
def run_reconciliation_csv(run_id: str, user: OperatorUser, services: ServicesDep) -> Response:
    """R14: the reconciliation as CSV: one line per state (count, minor units), `sent` last."""
    done = _reconciliation(run_id, services)
    out = io.StringIO()
    table = csv.writer(out, lineterminator="\n")
    table.writerow(("run_id", "state", "count", "amount_minor_units", "currency"))
    for state, (count, amount) in done.totals.items():
        table.writerow((done.run.run_id, state, count, amount, done.run.currency))
    table.writerow((done.run.run_id, "sent", *done.sent, done.run.currency))
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8")
