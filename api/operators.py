"""Operators (R8, R9): the review queue with each claim's automatic verdict, one claim with its
timeline and state, the invoice download link, decisions sent to the claim's workflow as an
update (its validator has the last word), and the import of licensing records from CSV."""

from __future__ import annotations

import asyncio
import csv
import io
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Query, UploadFile
from fastapi.concurrency import run_in_threadpool
from pydantic import AwareDatetime, BaseModel, Field, StringConstraints, model_validator
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from temporalio.client import (
    Client,
    WorkflowQueryFailedError,
    WorkflowQueryRejectedError,
    WorkflowUpdateFailedError,
)
from temporalio.exceptions import FailureError
from temporalio.service import RPCError, RPCStatusCode

from activities.eligibility import ClaimVerdict
from activities.payments import PaymentOutcome, PaymentResult
from activities.records import TimelineEntry
from api.deps import OperatorUser, ServicesDep, links
from api.errors import ApiError, error_responses, not_found
from api.limits import MULTIPART_ALLOWANCE, BodyCap
from cashback.bank.simulated import BANK_DETAIL_ERRORS
from cashback.claims import ClaimState, Decision, DecisionKind
from cashback.db import Database, LicensingRepository, PaymentRepository, TimelineRepository
from cashback.db.tables import Claim, PaymentStatus, Reseller
from cashback.decisions import DecisionKey
from cashback.domain.agreements import agreement_number as canonical_agreement_number
from cashback.domain.eligibility import LicenceLine, LicensingRecord, Reason, Verdict
from cashback.domain.identity import InvalidIdentifier, seller_identifier
from cashback.domain.money import Money
from cashback.domain.names import control_characters
from cashback.domain.status import ClaimStatus
from cashback.invoices import InvoiceNotFoundError, InvoiceStorageError

router = APIRouter(tags=["operators"])

INVOICE_LINK_LIFETIME = timedelta(minutes=10)
QUERY_TIMEOUT = timedelta(seconds=5)
PARALLEL_QUERIES = 16
MAX_CSV_BYTES = 5 * 1024 * 1024
# The import's whole request, capped by api.limits.BodyLimit while it arrives.
IMPORT_CAP = BodyCap(
    MAX_CSV_BYTES + MULTIPART_ALLOWANCE,
    "file_too_large",
    f"the CSV is larger than {MAX_CSV_BYTES // (1024 * 1024)} MB",
)
MAX_QUANTITY = 1_000_000  # licences on one line or decision; keeps amounts within the columns


# ---- reading claims -------------------------------------------------------------------------


@dataclass(frozen=True)
class ClaimOnFile:
    """A claim row (detached from its session) and the company name of its reseller."""

    claim: Claim
    reseller_name: str


def _operator_claim(claim_id: str, user: OperatorUser, services: ServicesDep) -> ClaimOnFile:
    """The claim named in the path, for a signed-in operator; 404 when there is none."""
    with services.database.reading() as session:
        found = session.execute(
            select(Claim, Reseller.company_name)
            .join(Reseller, Reseller.id == Claim.reseller_id)
            .where(Claim.id == claim_id)
        ).first()
    if found is None:
        raise not_found(f"claim {claim_id}")
    return ClaimOnFile(found[0], found[1])


OperatorClaim = Annotated[ClaimOnFile, Depends(_operator_claim)]


def _claims_under_review(
    database: Database, limit: int, offset: int
) -> tuple[list[ClaimOnFile], int]:
    """One page of the claims under review, oldest received first, and how many there are."""
    under_review = Claim.status == ClaimStatus.UNDER_REVIEW
    with database.reading() as session:
        total = session.scalar(select(func.count()).select_from(Claim).where(under_review))
        rows = session.execute(
            select(Claim, Reseller.company_name)
            .join(Reseller, Reseller.id == Claim.reseller_id)
            .where(under_review)
            .order_by(Claim.created_at, Claim.id)
            .limit(limit)
            .offset(offset)
        ).all()
    return [ClaimOnFile(claim, reseller_name) for claim, reseller_name in rows], total or 0


@dataclass(frozen=True)
class WorkflowAnswer:
    """The `state` query's answer, or why the claim's workflow gave none."""

    state: ClaimState | None
    problem: str | None = None


async def _query_state(client: Client, workflow_id: str) -> WorkflowAnswer:
    handle = client.get_workflow_handle(workflow_id)
    try:
        state: ClaimState = await handle.query(
            "state", result_type=ClaimState, rpc_timeout=QUERY_TIMEOUT
        )
    except (RPCError, WorkflowQueryFailedError, WorkflowQueryRejectedError) as error:
        return WorkflowAnswer(None, f"workflow {workflow_id} did not answer: {error}")
    return WorkflowAnswer(state)


class ClaimFacts(BaseModel):
    """What the claim row says: who claims what, under which offer."""

    claim_id: str
    workflow_id: str = Field(description="the claim's workflow, to look up in the Temporal UI")
    status: ClaimStatus = Field(description="as last recorded in the database")
    reseller_id: str
    reseller_name: str = Field(description="the reseller's company name")
    offer_id: str
    agreement_number: str
    customer_name: str
    reseller_name_on_agreement: str
    received_at: AwareDatetime
    amount: Money | None = Field(description="D4: known once the claim is approved")

    @classmethod
    def facts_of(cls, on_file: ClaimOnFile) -> dict[str, Any]:
        claim = on_file.claim
        amount = (
            Money(minor_units=claim.amount_minor_units, currency=claim.currency)
            if claim.amount_minor_units is not None and claim.currency is not None
            else None
        )
        return {
            "claim_id": claim.id,
            "workflow_id": claim.workflow_id,
            "status": claim.status,
            "reseller_id": claim.reseller_id,
            "reseller_name": on_file.reseller_name,
            "offer_id": claim.offer_id,
            "agreement_number": claim.agreement_number,
            "customer_name": claim.customer_name,
            "reseller_name_on_agreement": claim.reseller_name_on_agreement,
            "received_at": claim.created_at,
            "amount": amount,
        }


class VerdictRead(BaseModel):
    """R8: the automatic eligibility verdict, with the reasons a person reads."""

    verdict: Verdict
    eligible_licences: int
    reasons: list[Reason]
    sale_date: date | None = Field(description="from the licensing records, when they know it")
    customer_country: str | None

    @classmethod
    def of(cls, verdict: ClaimVerdict) -> VerdictRead:
        return cls(
            verdict=verdict.eligibility.verdict,
            eligible_licences=verdict.eligibility.eligible_licences,
            reasons=list(verdict.eligibility.reasons),
            sale_date=verdict.sale_date,
            customer_country=verdict.customer_country,
        )


class ReviewItem(ClaimFacts):
    review_deadline: date | None = Field(description="R9: the last business day of the review")
    verdict: VerdictRead | None
    escalated: bool = Field(description="R9: the deadline passed without a conclusive verdict")
    waiting_for: str
    state_unavailable: str | None = Field(
        description="why the workflow's state is unknown (it could not be queried)"
    )


class ReviewQueue(BaseModel):
    claims: list[ReviewItem]
    total: int = Field(description="claims under review in all")
    next_offset: int | None = Field(description="pass as `offset` for the next page; null: last")


def _review_item(on_file: ClaimOnFile, answer: WorkflowAnswer) -> ReviewItem:
    state = answer.state
    facts = ClaimFacts.facts_of(on_file)
    if state is not None and state.amount is not None:
        facts["amount"] = state.amount
    return ReviewItem(
        **facts,
        review_deadline=state.review_deadline if state else None,
        verdict=VerdictRead.of(state.verdict) if state and state.verdict else None,
        escalated=state.escalated if state else False,
        waiting_for=state.waiting_for if state else "",
        state_unavailable=answer.problem,
    )


def _deadline_order(item: ReviewItem) -> tuple[bool, date, datetime]:
    """Oldest deadline first; claims whose deadline is unknown last, oldest received first."""
    return (item.review_deadline is None, item.review_deadline or date.max, item.received_at)


_OF_FIRST = {"claim_id": "$response.body#/claims/0/claim_id"}
_OF_THIS = {"claim_id": "$response.body#/claim_id"}
_OF_PATH = {"claim_id": "$request.path.claim_id"}


@router.get(
    "/operator/review-queue",
    response_model=ReviewQueue,
    responses={
        200: links(
            GetFirstClaim=("get", "/operator/claims/{claim_id}", _OF_FIRST),
            GetFirstInvoice=("get", "/operator/claims/{claim_id}/invoice", _OF_FIRST),
            DecideFirst=("post", "/operator/claims/{claim_id}/decision", _OF_FIRST),
            EnterFirstPaymentResult=(
                "post",
                "/operator/claims/{claim_id}/payment-result",
                _OF_FIRST,
            ),
        ),
        **error_responses(401, 403, 422),
    },
)
async def review_queue(
    user: OperatorUser,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=200, description="claims per page")] = 50,
    offset: Annotated[
        int, Query(ge=0, le=1_000_000_000, description="`next_offset` of the page before")
    ] = 0,
) -> ReviewQueue:
    """R8, R9: the claims under review, each with the automatic verdict and its reasons,
    whether it was escalated and what its workflow waits for. Pages hold the oldest received
    claims first (the review deadline follows from the day a claim was received, R9); within a
    page, the oldest review deadline comes first. Each claim on the page is asked for its
    state, so a page costs `limit` workflow queries, whatever the length of the queue."""
    on_file, total = await run_in_threadpool(_claims_under_review, services.database, limit, offset)
    slots = asyncio.Semaphore(PARALLEL_QUERIES)

    async def ask(workflow_id: str) -> WorkflowAnswer:
        async with slots:
            return await _query_state(services.temporal, workflow_id)

    answers = await asyncio.gather(*(ask(entry.claim.workflow_id) for entry in on_file))
    items = [
        _review_item(entry, answer)
        for entry, answer in zip(on_file, answers, strict=True)
        # The database follows the workflow: a claim decided a moment ago is no longer listed.
        if answer.state is None or answer.state.status is ClaimStatus.UNDER_REVIEW
    ]
    following = offset + len(on_file)
    return ReviewQueue(
        claims=sorted(items, key=_deadline_order),
        total=total,
        next_offset=following if following < total else None,
    )


class OperatorClaimRead(ClaimFacts):
    terms_accepted_version: str
    terms_accepted_at: AwareDatetime
    invoice_sha256: str
    timeline: list[TimelineEntry] = Field(description="D3: every status change and event")
    state: ClaimState | None = Field(description="the workflow's `state` query")
    state_unavailable: str | None = Field(
        description="why the workflow's state is unknown (it could not be queried)"
    )


def _timeline(database: Database, claim_id: str) -> list[TimelineEntry]:
    with database.reading() as session:
        return TimelineRepository(session).of(claim_id)


@router.get(
    "/operator/claims/{claim_id}",
    response_model=OperatorClaimRead,
    responses={
        200: links(
            GetInvoice=("get", "/operator/claims/{claim_id}/invoice", _OF_THIS),
            Decide=("post", "/operator/claims/{claim_id}/decision", _OF_THIS),
            EnterPaymentResult=("post", "/operator/claims/{claim_id}/payment-result", _OF_THIS),
        ),
        **error_responses(401, 403, 404),
    },
)
async def operator_claim(claim: OperatorClaim, services: ServicesDep) -> OperatorClaimRead:
    """Any claim, with its timeline (D3) and its workflow's current state."""
    timeline = await run_in_threadpool(_timeline, services.database, claim.claim.id)
    answer = await _query_state(services.temporal, claim.claim.workflow_id)
    return OperatorClaimRead(
        **ClaimFacts.facts_of(claim),
        terms_accepted_version=claim.claim.terms_accepted_version,
        terms_accepted_at=claim.claim.terms_accepted_at,
        invoice_sha256=claim.claim.invoice_sha256,
        timeline=timeline,
        state=answer.state,
        state_unavailable=answer.problem,
    )


class InvoiceLink(BaseModel):
    claim_id: str
    url: str = Field(description="opens the customer invoice (R5); valid until `expires_at`")
    expires_at: AwareDatetime
    sha256: str = Field(description="the invoice's SHA-256 as recorded at submission")


@router.get(
    "/operator/claims/{claim_id}/invoice",
    response_model=InvoiceLink,
    responses=error_responses(401, 403, 404, 503),
)
def invoice_link(claim: OperatorClaim, services: ServicesDep) -> InvoiceLink:
    """R5: a short-lived link to the claim's customer invoice."""
    expires_at = datetime.now(UTC) + INVOICE_LINK_LIFETIME
    try:
        url = services.invoices.download_url(claim.claim.invoice_object_key, INVOICE_LINK_LIFETIME)
    except InvoiceNotFoundError as error:
        raise not_found(f"the invoice of claim {claim.claim.id}") from error
    except InvoiceStorageError as error:
        raise ApiError(503, "invoice_store_unavailable", str(error)) from error
    return InvoiceLink(
        claim_id=claim.claim.id, url=url, expires_at=expires_at, sha256=claim.claim.invoice_sha256
    )


# ---- deciding ---------------------------------------------------------------------------------

ReasonText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]


class DecisionCreate(BaseModel):
    """An operator's decision on a claim under review (R8, R9)."""

    kind: DecisionKind
    reasons: list[ReasonText] = Field(
        default_factory=list, max_length=20, description="for the reseller; a rejection needs one"
    )
    licences: int | None = Field(
        default=None,
        ge=1,
        le=MAX_QUANTITY,
        description="when the records could not count the eligible licences",
    )
    sale_date: date | None = Field(
        default=None, description="when the agreement is not in the licensing records (R15)"
    )

    @model_validator(mode="after")
    def _rejection_has_reasons(self) -> DecisionCreate:
        if self.kind is DecisionKind.REJECT and not self.reasons:
            raise ValueError("a rejection needs at least one reason for the reseller")
        return self


def _refusal(error: WorkflowUpdateFailedError) -> str:
    cause = error.cause
    return cause.message if isinstance(cause, FailureError) else str(cause)


@router.post(
    "/operator/claims/{claim_id}/decision",
    response_model=ClaimState,
    responses={
        200: links(GetClaim=("get", "/operator/claims/{claim_id}", _OF_PATH)),
        **error_responses(400, 401, 403, 404, 409, 422, 503),
    },
)
async def decide(
    decision: DecisionCreate, claim: OperatorClaim, user: OperatorUser, services: ServicesDep
) -> ClaimState:
    """R8, R9: approve or reject a claim under review. The decision goes to the claim's workflow
    as the `decide` update, signed for the signed-in operator (D3); a decision its validator
    refuses answers 409 with its reason."""
    handle = services.temporal.get_workflow_handle(claim.claim.workflow_id)
    signed = DecisionKey(services.settings.decision_key_bytes).sign(
        Decision(
            kind=decision.kind,
            operator=user.email,
            reasons=tuple(decision.reasons),
            licences=decision.licences,
            sale_date=decision.sale_date,
        ),
        claim_id=claim.claim.id,
        operator=user.email,
        issued_at=datetime.now(UTC),
    )
    try:
        state: ClaimState = await handle.execute_update("decide", signed, result_type=ClaimState)
    except WorkflowUpdateFailedError as error:
        raise ApiError(409, "decision_refused", _refusal(error)) from error
    except RPCError as error:
        if error.status is not RPCStatusCode.NOT_FOUND:
            raise ApiError(
                503, "temporal_unavailable", "the workflow service did not answer; try again"
            ) from error
        # A finished workflow takes no updates, so its validator cannot answer for it.
        status = claim.claim.status
        detail = (
            f"the claim's workflow {claim.claim.workflow_id} is not running"
            if status is ClaimStatus.UNDER_REVIEW
            else f"the claim is not under review (status {status.value})"
        )
        raise ApiError(409, "decision_refused", detail) from error
    return state


# ---- payment results from a file exchange ----------------------------------------------------

ACCEPTED_CODES = frozenset({"ACCP", "ACSC", "ACSP"})  # ISO 20022: accepted / settled


class PaymentResultEntry(BaseModel):
    """The bank's answer to a payment order sent by file exchange (ISO 20022 code)."""

    return_code: str = Field(
        pattern=r"^[A-Z0-9]{4}$",
        description="ACCP/ACSC/ACSP (paid) or a rejection reason: AC01, AC04, AC06, BE01",
        json_schema_extra={"enum": [*sorted(ACCEPTED_CODES | set(BANK_DETAIL_ERRORS))]},
    )
    bank_reference: str | None = Field(default=None, max_length=128)


class PaymentResultRead(BaseModel):
    idempotency_key: str
    outcome: PaymentOutcome
    return_code: str


@router.post(
    "/operator/claims/{claim_id}/payment-result",
    response_model=PaymentResultRead,
    responses=error_responses(400, 401, 403, 404, 409, 422),
)
async def enter_payment_result(
    entry: PaymentResultEntry, claim: OperatorClaim, services: ServicesDep
) -> PaymentResultRead:
    """R14, R16: enter the bank's answer to the claim's pending payment (file exchange): paid,
    or rejected for bank-detail reasons, which starts the update loop of R16."""
    code = entry.return_code
    if code in ACCEPTED_CODES:
        result = PaymentResult(
            outcome=PaymentOutcome.PAID, bank_reference=entry.bank_reference or code
        )
    elif code in BANK_DETAIL_ERRORS:
        result = PaymentResult(
            outcome=PaymentOutcome.REJECTED, return_code=code, detail=BANK_DETAIL_ERRORS[code]
        )
    else:
        known = ", ".join(sorted(ACCEPTED_CODES | set(BANK_DETAIL_ERRORS)))
        raise ApiError(422, "unknown_return_code", f"{code} is not one of {known}")

    def pending() -> tuple[str, bytes] | None:
        with services.database.reading() as session:
            waiting = [
                (p.idempotency_key, p.task_token)
                for p in PaymentRepository(session).of_claim(claim.claim.id)
                if p.status is PaymentStatus.PENDING and p.task_token is not None
            ]
            return waiting[-1] if waiting else None

    found = await run_in_threadpool(pending)
    if found is None:
        raise ApiError(409, "no_pending_payment", "no payment of this claim waits for an answer")
    key, task_token = found
    try:
        await services.temporal.get_async_activity_handle(task_token=task_token).complete(result)
    except RPCError as error:
        raise ApiError(
            409, "payment_not_waiting", "the payment no longer waits for this answer"
        ) from error

    def record() -> None:
        status = (
            PaymentStatus.PAID if result.outcome is PaymentOutcome.PAID else PaymentStatus.REJECTED
        )
        with services.database.transaction() as session:
            PaymentRepository(session).record_answer(
                key, status, bank_reference=result.bank_reference, return_code=result.return_code
            )

    await run_in_threadpool(record)
    return PaymentResultRead(idempotency_key=key, outcome=result.outcome, return_code=code)


# ---- licensing records --------------------------------------------------------------------------

CSV_COLUMNS = (
    "agreement_number",
    "customer_name",
    "customer_segment",
    "customer_country",
    "reseller_name",
    "sale_date",
    "product",
    "licence_type",
    "quantity",
)
# R8: the selling reseller's VAT id or partner id. A record without it is imported, and its
# claims go to an operator (the program cannot tell who sold the agreement).
OPTIONAL_COLUMNS = ("seller_id",)
# The agreement's own fields: every row of one agreement must repeat the same values.
AGREEMENT_FIELDS = (
    "customer_name",
    "customer_segment",
    "customer_country",
    "reseller_name",
    "seller_id",
    "sale_date",
)
MAX_LENGTHS = {
    "agreement_number": 64,
    "customer_name": 255,
    "customer_segment": 64,
    "reseller_name": 255,
    "product": 128,
    "licence_type": 64,
}
_COUNTRY = re.compile(r"[A-Za-z]{2}")
_DIGITS = re.compile(r"[0-9]+")


class RowError(BaseModel):
    row: int = Field(description="the row in the file, the header being row 1")
    field: str | None = Field(description="the column at fault, if one is")
    message: str


class ImportReport(BaseModel):
    rows: int = Field(description="data rows read")
    imported: list[str] = Field(description="agreements added to the licensing records")
    already_recorded: list[str] = Field(description="agreements on record before: not imported")
    not_imported: list[str] = Field(description="agreements with a bad row: not imported")
    errors: list[RowError]


@dataclass
class _AgreementRows:
    """The rows of one agreement in the file, as far as they are good."""

    first_row: int
    head: dict[str, str] = field(default_factory=dict)
    lines: list[LicenceLine] = field(default_factory=list)
    bad: bool = False


@dataclass
class _ParsedFile:
    rows: int = 0
    agreements: dict[str, _AgreementRows] = field(default_factory=dict)
    errors: list[RowError] = field(default_factory=list)

    def records(self) -> list[LicensingRecord]:
        return [
            LicensingRecord(
                agreement_number=number,
                customer_name=rows.head["customer_name"],
                customer_segment=rows.head["customer_segment"],
                customer_country=rows.head["customer_country"],
                reseller_name=rows.head["reseller_name"],
                seller_id=rows.head["seller_id"] or None,
                sale_date=date.fromisoformat(rows.head["sale_date"]),
                lines=tuple(rows.lines),
            )
            for number, rows in self.agreements.items()
            if not rows.bad
        ]


def _shown(value: str) -> str:
    """A value for an error message, cut short."""
    return repr(value if len(value) <= 40 else value[:40] + "...")


def _row_errors(row: int, values: dict[str, str]) -> list[RowError]:
    """What is wrong with one row on its own: missing or too long fields, a date that is not
    ISO 8601, a quantity that is not a positive integer, a country that is not 2 letters."""
    errors: list[RowError] = []
    for name in CSV_COLUMNS:
        value = values[name]
        if not value:
            errors.append(RowError(row=row, field=name, message=f"{name} is missing"))
        elif controls := control_characters(value):
            errors.append(
                RowError(
                    row=row,
                    field=name,
                    message=f"{name} contains control characters ({', '.join(controls)}): "
                    "line breaks, tabs and direction marks are not allowed",
                )
            )
        elif len(value) > MAX_LENGTHS.get(name, len(value)):
            errors.append(
                RowError(row=row, field=name, message=f"{name} is longer than {MAX_LENGTHS[name]}")
            )
    if values["sale_date"]:
        try:
            date.fromisoformat(values["sale_date"])
        except ValueError:
            errors.append(
                RowError(
                    row=row,
                    field="sale_date",
                    message=f"{_shown(values['sale_date'])} is not a date as YYYY-MM-DD",
                )
            )
    quantity = values["quantity"]
    if quantity and not (
        _DIGITS.fullmatch(quantity) and len(quantity) <= 12 and 1 <= int(quantity) <= MAX_QUANTITY
    ):
        errors.append(
            RowError(
                row=row,
                field="quantity",
                message=f"{_shown(quantity)} is not a whole number from 1 to {MAX_QUANTITY}",
            )
        )
    if values["seller_id"]:
        try:
            values["seller_id"] = seller_identifier(values["seller_id"])
        except InvalidIdentifier as error:
            errors.append(RowError(row=row, field="seller_id", message=f"R8: {error}"))
    country = values["customer_country"]
    if country and not _COUNTRY.fullmatch(country):
        errors.append(
            RowError(
                row=row,
                field="customer_country",
                message=f"{_shown(country)} is not a 2-letter ISO 3166 country code",
            )
        )
    return errors


def _add_row(parsed: _ParsedFile, row: int, values: dict[str, str]) -> None:
    errors = _row_errors(row, values)
    number = canonical_agreement_number(values["agreement_number"])  # D1: one way to write it
    if not number or len(number) > MAX_LENGTHS["agreement_number"]:
        parsed.errors.extend(errors)
        return
    agreement = parsed.agreements.setdefault(number, _AgreementRows(first_row=row))
    head = {name: values[name] for name in AGREEMENT_FIELDS}
    head["customer_country"] = head["customer_country"].upper()
    if not errors and agreement.head:
        errors = [
            RowError(
                row=row,
                field=name,
                message=f"{name} {_shown(head[name])} differs from row {agreement.first_row} of "
                f"agreement {number} ({_shown(agreement.head[name])})",
            )
            for name in AGREEMENT_FIELDS
            if head[name] != agreement.head[name]
        ]
    if errors:
        parsed.errors.extend(errors)
        agreement.bad = True
        return
    if not agreement.head:
        agreement.head = head
        agreement.first_row = row
    agreement.lines.append(
        LicenceLine(
            product=values["product"],
            licence_type=values["licence_type"],
            quantity=int(values["quantity"]),
        )
    )


def parse_licensing_csv(text: str) -> _ParsedFile:
    """The rows of a licensing-records CSV, grouped by agreement, with every bad row's errors.
    A file whose header lacks a column, or that is not CSV, is refused as a whole (422)."""
    reader = csv.reader(io.StringIO(text, newline=""))
    parsed = _ParsedFile()
    row = 1
    try:
        header = [name.strip().lower() for name in next(reader, [])]
        missing = [name for name in CSV_COLUMNS if name not in header]
        if missing:
            raise ApiError(
                422,
                "invalid_csv",
                f"the header row lacks {', '.join(missing)}; expected the columns "
                f"{', '.join(CSV_COLUMNS)}",
            )
        position = {
            name: header.index(name) for name in (*CSV_COLUMNS, *OPTIONAL_COLUMNS) if name in header
        }
        for row, cells in enumerate(reader, start=2):
            if not any(cell.strip() for cell in cells):
                continue  # a blank line
            parsed.rows += 1
            values = {name: "" for name in OPTIONAL_COLUMNS} | {
                name: cells[index].strip() if index < len(cells) else ""
                for name, index in position.items()
            }
            _add_row(parsed, row, values)
    except csv.Error as error:
        raise ApiError(422, "invalid_csv", f"row {row} is not valid CSV: {error}") from error
    return parsed


@dataclass
class _ImportResult:
    imported: list[str] = field(default_factory=list)
    already_recorded: list[str] = field(default_factory=list)


def _import_agreements(database: Database, records: list[LicensingRecord]) -> _ImportResult:
    """Add the agreements that are not on record yet; one already there is left as it is."""
    result = _ImportResult()
    now = datetime.now(UTC)
    with database.transaction() as session:
        repository = LicensingRepository(session)
        for record in records:
            if repository.find_agreement(record.agreement_number) is not None:
                result.already_recorded.append(record.agreement_number)
                continue
            try:
                with session.begin_nested():
                    repository.add_agreement(record, imported_at=now)
            except IntegrityError:  # imported by a concurrent request a moment ago
                result.already_recorded.append(record.agreement_number)
                continue
            result.imported.append(record.agreement_number)
    return result


@router.post(
    "/operator/licensing-records/import",
    response_model=ImportReport,
    responses=error_responses(400, 401, 403, 413, 422),
)
def import_licensing_records(
    user: OperatorUser,
    services: ServicesDep,
    file: Annotated[
        UploadFile,
        File(
            description="UTF-8 CSV, one row per agreement line, with the header "
            + ",".join(CSV_COLUMNS)
            + " and the selling reseller's VAT id or partner id as seller_id (R8)"
        ),
    ],
) -> ImportReport:
    """Import licensing records (R8) from CSV. Rows of one agreement are grouped; an agreement
    with a bad row is not imported, and one already on record is reported, not replaced. The
    report names every bad row (row number, field, message)."""
    data = file.file.read(MAX_CSV_BYTES + 1)
    if len(data) > MAX_CSV_BYTES:
        raise ApiError(
            413, "file_too_large", f"the CSV is larger than {MAX_CSV_BYTES // (1024 * 1024)} MB"
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ApiError(422, "invalid_csv", "the file is not UTF-8 text") from error
    parsed = parse_licensing_csv(text)
    result = _import_agreements(services.database, parsed.records())
    errors = list(parsed.errors)
    for number in result.already_recorded:
        errors.append(
            RowError(
                row=parsed.agreements[number].first_row,
                field="agreement_number",
                message=f"agreement {number} is already in the licensing records; "
                "not imported again",
            )
        )
    return ImportReport(
        rows=parsed.rows,
        imported=result.imported,
        already_recorded=result.already_recorded,
        not_imported=[number for number, rows in parsed.agreements.items() if rows.bad],
        errors=sorted(errors, key=lambda error: error.row),
    )
