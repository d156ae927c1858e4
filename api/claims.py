"""Claims: submission, listing and one claim with its timeline (R4, R5, R6, R7, D1, D2, D3).

A submission is checked early with the rules the workflow also applies, its invoice is stored,
the claim row is written and the claim's workflow is started under an id derived from the
claim, so Temporal itself refuses a second start. Reading a claim combines the database's
projection (status, timeline, notices) with the workflow's `state` query (deadlines).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import logging
import secrets
from collections.abc import Callable, Coroutine
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import (
    APIRouter,
    File,
    Form,
    Header,
    Query,
    Request,
    Response,
    UploadFile,
)
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import AwareDatetime, BaseModel, Field
from sqlalchemy import and_, or_, select
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from activities.invoices import InvoiceRef
from activities.records import TimelineEvent
from api.deps import ResellerUser, ServicesDep, SignedIn, links
from api.errors import ApiError, error_responses, not_found, nul_in_text
from api.limits import MULTIPART_ALLOWANCE, BodyCap, BodyTooLarge
from api.offers import is_open_to
from api.services import Services
from cashback.claims import ClaimInput, claim_workflow_id
from cashback.db import (
    ClaimRepository,
    Database,
    DuplicateClaim,
    NoticeRepository,
    TimelineRepository,
)
from cashback.db.claims import store_claim
from cashback.db.snapshots import claim_input_of
from cashback.db.tables import Claim, Offer, Reseller
from cashback.domain.agreements import agreement_number as canonical_agreement_number
from cashback.domain.eligibility import Verdict
from cashback.domain.money import Money
from cashback.domain.names import PlainText
from cashback.domain.status import ClaimStatus, NoticeKind
from cashback.invoices import InvoiceStorageError, StoredInvoice, sha256_hex
from workflows.claim import ClaimWorkflow

log = logging.getLogger(__name__)

MAX_INVOICE_BYTES = 10 * 1024 * 1024  # R5: invoices up to 10 MB
# The whole request: the invoice plus the form's text fields and multipart framing.
MAX_SUBMISSION_BYTES = MAX_INVOICE_BYTES + MULTIPART_ALLOWANCE
_CHUNK_BYTES = 256 * 1024
_TEMPORAL_TIMEOUT = timedelta(seconds=5)
_PRELIMINARY = "The preliminary confirmation (R7) is on its way to your e-mail address."


# ---- the request body's size cap ---------------------------------------------------------


def _too_large() -> ApiError:
    return ApiError(
        413,
        "invoice_too_large",
        f"R5: the invoice may be at most {MAX_INVOICE_BYTES // (1024 * 1024)} MB; "
        "send a smaller scan or a PDF",
    )


# The whole request's cap, which api.limits.BodyLimit applies while the body arrives.
SUBMISSION_CAP = BodyCap(MAX_SUBMISSION_BYTES, _too_large().error, _too_large().detail)


class _CappedBodyRoute(APIRoute):
    """Refuses a compressed body unread, and answers a form that cannot be parsed in the API's
    one error format (the body's size is capped before, by `SUBMISSION_CAP`)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def capped(request: Request) -> Response:
            encoding = request.headers.get("content-encoding", "identity").strip().lower()
            if request.method == "POST" and encoding not in ("", "identity"):
                # A compressed body could expand far beyond the cap once decoded: refused unread.
                raise ApiError(
                    415,
                    "content_encoding_unsupported",
                    f"the request body is {encoding}-encoded; send the form uncompressed "
                    "(Content-Encoding: identity)",
                )
            try:
                return await handle(request)
            except RequestValidationError as error:
                if any(_is_text_part(item) for item in error.errors()):
                    raise ApiError(
                        422,
                        "invoice_not_a_file",
                        "R5: send the invoice as a file (a form part with a filename), not as "
                        "a text field",
                    ) from None
                raise
            except HTTPException as error:  # FastAPI wraps a failed form parse in a 400
                if isinstance(error.__cause__, BodyTooLarge):
                    raise  # BodyLimit answers 413
                if error.status_code == 400:  # a broken multipart body: invalid input
                    raise ApiError(
                        422,
                        "invalid_request",
                        "the body is not a valid multipart/form-data form; send the claim's "
                        "fields and the invoice file as a form",
                    ) from None
                raise

        return capped


def _is_text_part(error: Any) -> bool:
    """The invoice sent as a text field: its bytes would have been decoded as text."""
    return tuple(error.get("loc", ())) == ("body", "invoice") and "UploadFile" in str(
        error.get("msg", "")
    )


router = APIRouter(tags=["claims"], route_class=_CappedBodyRoute)


# ---- schemas -----------------------------------------------------------------------------


class ClaimSubmitted(BaseModel):
    claim_id: str
    status: ClaimStatus
    offer_id: str
    agreement_number: str
    submitted_at: AwareDatetime
    message: str = Field(description="what happens next (R7: the preliminary confirmation)")


class ClaimSummary(BaseModel):
    claim_id: str
    offer_id: str
    agreement_number: str
    customer_name: str
    status: ClaimStatus
    amount: Money | None = Field(description="D4: known once the claim is approved")
    submitted_at: AwareDatetime
    updated_at: AwareDatetime

    @classmethod
    def of(cls, claim: Claim) -> ClaimSummary:
        return cls(
            claim_id=claim.id,
            offer_id=claim.offer_id,
            agreement_number=claim.agreement_number,
            customer_name=claim.customer_name,
            status=claim.status,
            amount=_amount(claim),
            submitted_at=claim.created_at,
            updated_at=claim.updated_at,
        )


class ClaimPage(BaseModel):
    claims: list[ClaimSummary] = Field(description="newest first")
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null: last")


class TimelineItem(BaseModel):
    """D3: one change of the claim: when, who, what and why."""

    at: AwareDatetime
    actor: str
    event: TimelineEvent
    from_status: ClaimStatus | None
    to_status: ClaimStatus | None
    reason: str


class NoticeItem(BaseModel):
    """An e-mail sent to the reseller about the claim."""

    kind: NoticeKind
    number: int
    sent_at: AwareDatetime
    respond_by: AwareDatetime | None


class ClaimDeadlines(BaseModel):
    review_deadline: date | None = Field(default=None, description="R9: decision due by")
    respond_by: AwareDatetime | None = Field(
        default=None, description="R10, R16: bank details due by"
    )
    payout_date: date | None = Field(default=None, description="R14, R15: payout scheduled on")
    payout_due: date | None = Field(default=None, description="R14: 45 days after approval")


class NextStep(BaseModel):
    action_required: bool
    detail: str = Field(description="what the reseller must do next, or what it waits for")
    respond_by: AwareDatetime | None = None


class InvoiceRead(BaseModel):
    content_type: str
    sha256: str


class ClaimRead(ClaimSummary):
    reseller_name_on_agreement: str
    terms_accepted_version: str
    terms_accepted_at: AwareDatetime
    invoice: InvoiceRead
    deadlines: ClaimDeadlines
    next_step: NextStep
    reasons: list[str] = Field(
        description="why: the reasons of a rejection or cancellation, or under review of a "
        "verdict that needs a person or says no (R8)"
    )
    notices: list[NoticeItem]
    timeline: list[TimelineItem]


# ---- POST /claims ------------------------------------------------------------------------


@dataclass(frozen=True)
class _InvoiceType:
    magic: bytes
    content_type: str
    extension: str


_INVOICE_TYPES = (
    _InvoiceType(b"%PDF-", "application/pdf", "pdf"),
    _InvoiceType(b"\x89PNG\r\n\x1a\n", "image/png", "png"),
    _InvoiceType(b"\xff\xd8\xff", "image/jpeg", "jpg"),
)


# What a request may declare an invoice to be (its part's Content-Type, its file name's
# extension), by the extension of the type it names.
_DECLARED_TYPES = {
    "application/pdf": "pdf",
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/jpg": "jpg",
    "image/pjpeg": "jpg",
}
_DECLARED_EXTENSIONS = {"pdf": "pdf", "png": "png", "jpg": "jpg", "jpeg": "jpg", "jpe": "jpg"}


@dataclass(frozen=True)
class _Upload:
    """The invoice as received: its bytes, and what the request said it is."""

    data: bytes
    content_type: str
    filename: str


@dataclass(frozen=True)
class _Submission:
    offer_id: str
    agreement_number: str
    customer_name: str
    reseller_name: str
    terms_accepted_version: str | None

    def digest(self, invoice_sha256: str) -> str:
        """D2: what makes two requests "the same": every field and the invoice's bytes."""
        fields = {**asdict(self), "invoice_sha256": invoice_sha256}
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class _Context:
    reseller: Reseller
    offer: Offer | None
    same_key: Claim | None
    same_agreement: Claim | None


_TO_CLAIM = links(GetClaim=("get", "/claims/{claim_id}", {"claim_id": "$response.body#/claim_id"}))


@router.post(
    "/claims",
    status_code=201,
    response_model=ClaimSubmitted,
    responses={
        201: _TO_CLAIM,
        200: {
            "model": ClaimSubmitted,
            "description": "D2: a retry with the same Idempotency-Key and body; the same claim",
            **_TO_CLAIM,
        },
        **error_responses(401, 403, 404, 409, 413, 415, 422, 503),
    },
)
async def submit_claim(
    user: ResellerUser,
    services: ServicesDep,
    response: Response,
    offer_id: Annotated[str, Form(min_length=1, max_length=64)],
    agreement_number: Annotated[
        str, Form(min_length=1, max_length=64, description="R5: the Open License agreement")
    ],
    customer_name: Annotated[PlainText, Form(min_length=1, max_length=255)],
    reseller_name: Annotated[
        PlainText,
        Form(min_length=1, max_length=255, description="R5: the reseller on the agreement"),
    ],
    terms_accepted_version: Annotated[
        str | None, Form(max_length=64, description="R6: the offer's T&C version you accepted")
    ] = None,
    invoice: Annotated[
        UploadFile | None, File(description="R5: the customer invoice, PDF, PNG or JPEG, ≤ 10 MB")
    ] = None,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=100,
            description="D2: a retry with the same key and body returns the same claim",
        ),
    ] = None,
) -> ClaimSubmitted:
    """R5, R6, D1, D2: submit a claim with its invoice; the claim's workflow starts, and the
    preliminary confirmation (R7) is sent."""
    reseller_id = _reseller_id(user)
    submission = _Submission(
        offer_id=offer_id.strip(),
        agreement_number=canonical_agreement_number(agreement_number),
        customer_name=customer_name.strip(),
        reseller_name=reseller_name.strip(),
        terms_accepted_version=(terms_accepted_version or "").strip() or None,
    )
    _check_complete(submission)
    upload = await _read_invoice(invoice)
    data = upload.data
    invoice_sha256 = await run_in_threadpool(sha256_hex, data)  # 10 MB: not on the loop
    request_sha256 = submission.digest(invoice_sha256)
    claim_id = f"c_{secrets.token_hex(8)}"
    # Keys are per reseller: another reseller's key can neither collide nor reveal a claim.
    scoped_key = f"{reseller_id} {idempotency_key or 'auto-' + claim_id}"

    context = await run_in_threadpool(
        _context, services.database, reseller_id, submission, scoped_key
    )
    if context.same_key is not None:
        response.status_code = 200
        return await _replay(services, context, context.same_key, request_sha256, len(data))
    now = datetime.now(UTC)
    offer = _check_offer(submission, context, now)
    invoice_type = _invoice_type(upload)
    if context.same_agreement is not None:
        raise _duplicate(offer.id, submission.agreement_number, context.same_agreement, reseller_id)

    row = Claim(
        id=claim_id,
        workflow_id=claim_workflow_id(claim_id),
        idempotency_key=scoped_key,
        reseller_id=reseller_id,
        offer_id=offer.id,
        agreement_number=submission.agreement_number,
        customer_name=submission.customer_name,
        reseller_name_on_agreement=submission.reseller_name,
        terms_accepted_version=offer.terms_version,
        terms_accepted_at=now,
        invoice_object_key=f"invoices/{claim_id}/{invoice_sha256}.{invoice_type.extension}",
        invoice_sha256=invoice_sha256,
        request_sha256=request_sha256,
        status=ClaimStatus.SUBMITTED,
        amount_minor_units=None,
        currency=None,
        created_at=now,
        updated_at=now,
    )
    claim, stored = await _store(services, row, data, invoice_type.content_type)
    if claim.id != claim_id:  # D2: a concurrent request with the same key stored its claim
        response.status_code = 200
        return await _replay(services, context, claim, request_sha256, len(data))

    claim_input = _claim_input(services, context.reseller, offer, claim, stored)
    try:
        await _start_workflow(services, claim_input)
    except _WorkflowNotStarted:
        await _withdraw(services, claim)
        raise _unavailable("the workflow service") from None
    response.headers["Location"] = f"/claims/{claim_id}"
    return _submitted(claim)


async def _store(
    services: Services, row: Claim, data: bytes, content_type: str
) -> tuple[Claim, StoredInvoice]:
    """R5: store the invoice, then the claim. Answers the stored claim: `row`, or the claim a
    concurrent request with the same Idempotency-Key stored first (D2), in which case this
    request's invoice is deleted again, as it is when anything fails: no orphan invoice."""
    object_key = row.invoice_object_key
    try:
        stored = await run_in_threadpool(services.invoices.put, object_key, data, content_type)
        claim = await run_in_threadpool(_insert, services.database, row)
    except DuplicateClaim as duplicate:  # D1: another submission won the race
        await _discard_invoice(services, object_key)
        # D2: unless it was a request with this very key, committed between the insert's reads.
        same_key = await run_in_threadpool(_by_key, services.database, row.idempotency_key)
        if same_key is not None:
            return same_key, stored
        raise _duplicate(row.offer_id, row.agreement_number, duplicate, row.reseller_id) from None
    except (InvoiceStorageError, SQLAlchemyError) as error:
        log.error("claim %s could not be stored: %s", row.id, error)
        await _discard_invoice(services, object_key)
        what = "the database" if isinstance(error, SQLAlchemyError) else "the invoice store"
        raise _unavailable(what) from None
    except BaseException:
        await _discard_invoice(services, object_key)
        raise
    if claim.id != row.id:
        await _discard_invoice(services, object_key)
    return claim, stored


def _check_complete(submission: _Submission) -> None:
    texts = (
        submission.offer_id,
        submission.agreement_number,
        submission.customer_name,
        submission.reseller_name,
        submission.terms_accepted_version or "",
    )
    if any("\x00" in text for text in texts):
        raise nul_in_text()  # checked before anything is stored: PostgreSQL refuses it
    blank = [
        name
        for name in ("offer_id", "agreement_number", "customer_name", "reseller_name")
        if not getattr(submission, name)
    ]
    if blank:
        raise ApiError(
            422,
            "claim_incomplete",
            f"R5: a claim names the agreement number, the customer and the reseller on the "
            f"agreement; blank: {', '.join(blank)}",
        )
    if submission.terms_accepted_version is None:
        raise ApiError(
            422,
            "terms_not_accepted",
            "R6: read and accept the offer's Terms and Conditions, and send the accepted "
            "version as terms_accepted_version; a claim without acceptance is not processed",
        )


async def _read_invoice(invoice: UploadFile | None) -> _Upload:
    """R5: the invoice's bytes, read in chunks and never more than the cap (plus one chunk)."""
    missing = ApiError(
        422,
        "invoice_missing",
        "R5: attach a copy of the customer invoice (PDF, PNG or JPEG) as the `invoice` file; "
        "without it the submission cannot be completed",
    )
    if invoice is None:
        raise missing
    chunks: list[bytes] = []
    size = 0
    while chunk := await invoice.read(_CHUNK_BYTES):
        size += len(chunk)
        if size > MAX_INVOICE_BYTES:
            raise _too_large()
        chunks.append(chunk)
    if size == 0:
        raise missing
    return _Upload(b"".join(chunks), invoice.content_type or "", invoice.filename or "")


def _invoice_type(upload: _Upload) -> _InvoiceType:
    """R5: PDF, PNG or JPEG, told by the file's first bytes, never by its declared type. A file
    whose name or Content-Type claims one of these types and whose bytes are another is refused
    (a file that lies about its type); a neutral name or type (`scan.bin`,
    application/octet-stream) is fine."""
    for kind in _INVOICE_TYPES:
        if upload.data.startswith(kind.magic):
            declared = _DECLARED_TYPES.get(upload.content_type.split(";")[0].strip().lower())
            extension = upload.filename.rsplit(".", 1)[-1].lower() if "." in upload.filename else ""
            named = _DECLARED_EXTENSIONS.get(extension)
            if declared not in (None, kind.extension) or named not in (None, kind.extension):
                raise ApiError(
                    415,
                    "invoice_type_mismatch",
                    f"R5: the invoice is sent as {upload.content_type or 'a file'} named "
                    f"{upload.filename!r}, but its content is a {kind.extension.upper()} file: "
                    "send the file under its own name and type",
                )
            return kind
    raise ApiError(
        415,
        "invoice_type_unsupported",
        "R5: the invoice must be a PDF, PNG or JPEG file; the content of the file sent is none "
        "of these (whatever its name or declared type)",
    )


def _context(
    database: Database, reseller_id: str, submission: _Submission, scoped_key: str
) -> _Context:
    with database.reading() as session:
        claims = ClaimRepository(session)
        same_key = claims.by_idempotency_key(scoped_key)
        same_agreement = claims.for_agreement(submission.offer_id, submission.agreement_number)
        if same_key is None and same_agreement is not None:
            # D2: on PostgreSQL each statement reads what was committed before it: a concurrent
            # request with this key may have stored its claim between the two reads.
            same_key = claims.by_idempotency_key(scoped_key)
        return _Context(
            reseller=session.get_one(Reseller, reseller_id),
            offer=session.get(Offer, submission.offer_id),
            same_key=same_key,
            same_agreement=same_agreement,
        )


def _check_offer(submission: _Submission, context: _Context, now: datetime) -> Offer:
    """The offer exists, is open to the reseller now (R2, R4), and its T&C were accepted (R6)."""
    offer = context.offer
    if offer is None:
        raise ApiError(
            404, "offer_not_found", f"offer {submission.offer_id} does not exist: see GET /offers"
        )
    if not is_open_to(offer, context.reseller.country, now):
        raise ApiError(422, "offer_not_open", _why_not_open(offer, context.reseller, now))
    if submission.terms_accepted_version != offer.terms_version:
        raise ApiError(
            422,
            "terms_version_mismatch",
            f"R6: you accepted the Terms and Conditions version "
            f"{submission.terms_accepted_version}, but offer {offer.id} has version "
            f"{offer.terms_version}: read and accept the current version",
        )
    return offer


def _why_not_open(offer: Offer, reseller: Reseller, now: datetime) -> str:
    period = offer.claim_period()
    if offer.closed_at is not None:
        return f"R4: offer {offer.id} was closed on {offer.closed_at:%Y-%m-%d}; no new claims"
    if not period.is_open(now):
        return (
            f"R4: claims for offer {offer.id} can only be submitted during its claim period, "
            f"{period.opens_at:%Y-%m-%d %H:%M} to {period.closes_at:%Y-%m-%d %H:%M} UTC"
        )
    return (
        f"R4 (R2): offer {offer.id} is not open to resellers in {reseller.country}; "
        "see GET /offers for the offers open to you"
    )


def _duplicate(
    offer_id: str, agreement_number: str, existing: Claim | DuplicateClaim, reseller_id: str
) -> ApiError:
    """D1: the existing claim is named only to the reseller that owns it."""
    owner = existing.reseller_id if isinstance(existing, Claim) else existing.owner_id
    claim_id = existing.id if isinstance(existing, Claim) else existing.existing_claim_id
    which = f"your claim {claim_id}" if owner == reseller_id else "an open or paid claim"
    return ApiError(
        409,
        "duplicate_claim",
        f"D1: offer {offer_id} already has {which} for agreement {agreement_number}; one open "
        "or paid claim per offer and agreement (numbers compared without case, spaces or "
        "separators)",
    )


async def _replay(
    services: Services, context: _Context, claim: Claim, request_sha256: str, invoice_size: int
) -> ClaimSubmitted:
    """D2: the claim stored under this Idempotency-Key, if the request is the same. Its workflow
    is started again under the same id: Temporal refuses if it runs or ran (nothing new starts),
    and a claim whose first request died between storing and starting gets its workflow."""
    if claim.request_sha256 != request_sha256:
        raise ApiError(
            422,
            "idempotency_key_reused",
            "D2: this Idempotency-Key was used for another request (other fields or another "
            "invoice); use a new key for a new claim",
        )
    if context.offer is not None:
        invoice = InvoiceRef(
            object_key=claim.invoice_object_key,
            sha256=claim.invoice_sha256,
            content_type=_content_type(claim.invoice_object_key),
            size_bytes=invoice_size,
        )
        try:
            await _start_workflow(
                services, _claim_input(services, context.reseller, context.offer, claim, invoice)
            )
        except _WorkflowNotStarted:
            raise _unavailable("the workflow service") from None
    return _submitted(claim)


def _submitted(claim: Claim) -> ClaimSubmitted:
    return ClaimSubmitted(
        claim_id=claim.id,
        status=claim.status,
        offer_id=claim.offer_id,
        agreement_number=claim.agreement_number,
        submitted_at=claim.created_at,
        message=f"Claim {claim.id} was received. {_PRELIMINARY}",
    )


def _insert(database: Database, row: Claim) -> Claim:
    """The stored claim: `row`, or the claim already stored under its idempotency key (D2).
    Raises `DuplicateClaim` for another claim of the offer for the agreement (D1). A lost
    COMMIT answer is ridden out: the retry finds the stored claim (`store_claim`)."""
    return store_claim(database, row)


def _by_key(database: Database, scoped_key: str) -> Claim | None:
    with database.reading() as session:
        return ClaimRepository(session).by_idempotency_key(scoped_key)


def _remove(database: Database, claim_id: str) -> None:
    with database.transaction() as session:
        row = session.get(Claim, claim_id)
        if row is not None:
            session.delete(row)


def _claim_input(
    services: Services,
    reseller: Reseller,
    offer: Offer,
    claim: Claim,
    invoice: InvoiceRef | StoredInvoice,
) -> ClaimInput:
    """The workflow's input, from the stored claim: the same for a first start and a retry."""
    ref = InvoiceRef.model_validate(invoice, from_attributes=True)
    return claim_input_of(reseller, offer, claim, ref, services.settings.policy)


class _WorkflowNotStarted(Exception):
    pass


async def _start_workflow(services: Services, claim: ClaimInput) -> None:
    """Start the claim's workflow under the id derived from the claim. A refused second start
    means the workflow exists: the same claim (D2). Raises `_WorkflowNotStarted` otherwise."""
    try:
        await services.temporal.start_workflow(
            ClaimWorkflow.run,
            claim,
            id=claim_workflow_id(claim.claim_id),
            task_queue=services.settings.task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            static_summary=(
                f"{claim.reseller.company_name} · {claim.offer.name} · agreement "
                f"{claim.claimed.agreement_number} (claim {claim.claim_id})"
            ),
            rpc_timeout=_TEMPORAL_TIMEOUT,
        )
    except WorkflowAlreadyStartedError:
        return
    except Exception as error:
        log.error("claim %s: the workflow could not be started: %s", claim.claim_id, error)
        raise _WorkflowNotStarted from error


async def _withdraw(services: Services, claim: Claim) -> None:
    """Undo a submission whose workflow did not start: no half-made claim stays behind."""
    with contextlib.suppress(Exception):  # it may have started before the call failed
        await services.temporal.get_workflow_handle(claim.workflow_id).terminate(
            reason="the submission failed; the claim was withdrawn",
            rpc_timeout=_TEMPORAL_TIMEOUT,
        )
    try:
        await run_in_threadpool(_remove, services.database, claim.id)
    except SQLAlchemyError as error:  # its workflow ran far enough to record something
        log.error("claim %s could not be withdrawn: %s", claim.id, error)
        return
    await _discard_invoice(services, claim.invoice_object_key)


async def _discard_invoice(services: Services, object_key: str) -> None:
    try:
        await run_in_threadpool(services.invoices.delete, object_key)
    except InvoiceStorageError as error:
        log.error("orphan invoice %s could not be deleted: %s", object_key, error)


def _unavailable(what: str) -> ApiError:
    return ApiError(
        503,
        "service_unavailable",
        f"{what} is not available; nothing was stored: submit the claim again in a moment",
        headers={"Retry-After": "30"},
    )


# ---- GET /claims ---------------------------------------------------------------------------


@router.get(
    "/claims",
    response_model=ClaimPage,
    responses={
        200: links(
            GetFirstClaim=(
                "get",
                "/claims/{claim_id}",
                {"claim_id": "$response.body#/claims/0/claim_id"},
            )
        ),
        **error_responses(401, 403, 422),
    },
)
def list_claims(
    user: ResellerUser,
    services: ServicesDep,
    status: Annotated[ClaimStatus | None, Query(description="only claims in this status")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the page before")] = None,
) -> ClaimPage:
    """The signed-in reseller's own claims, newest first, a page at a time."""
    query = select(Claim).where(Claim.reseller_id == _reseller_id(user))
    if status is not None:
        query = query.where(Claim.status == status)
    if cursor is not None:
        created_at, claim_id = _decode_cursor(cursor)
        query = query.where(
            or_(
                Claim.created_at < created_at,
                and_(Claim.created_at == created_at, Claim.id < claim_id),
            )
        )
    query = query.order_by(Claim.created_at.desc(), Claim.id.desc()).limit(limit + 1)
    with services.database.reading() as session:
        rows = list(session.scalars(query))
    page, more = rows[:limit], len(rows) > limit
    return ClaimPage(
        claims=[ClaimSummary.of(row) for row in page],
        next_cursor=_encode_cursor(page[-1]) if more else None,
    )


def _encode_cursor(claim: Claim) -> str:
    raw = json.dumps([claim.created_at.isoformat(), claim.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created_at, claim_id = json.loads(raw)
        at = datetime.fromisoformat(created_at)
        if at.tzinfo is None or not isinstance(claim_id, str):
            raise ValueError(cursor)
    except (ValueError, TypeError, binascii.Error):
        raise ApiError(
            422, "invalid_cursor", "cursor: pass the `next_cursor` of a page unchanged"
        ) from None
    return at, claim_id


# ---- GET /claims/{claim_id} ------------------------------------------------------------------


@dataclass(frozen=True)
class _Stored:
    claim: Claim
    timeline: list[TimelineItem]
    notices: list[NoticeItem]


@router.get(
    "/claims/{claim_id}", response_model=ClaimRead, responses=error_responses(401, 403, 404)
)
def read_claim(claim_id: str, user: ResellerUser, services: ServicesDep) -> ClaimRead:
    """One of the reseller's own claims: status, amount, deadlines, what to do next, why (the
    reasons of a verdict that needs a person or says no, of a rejection or cancellation), the
    notices sent and the timeline (D3). Read from the database, never from the workflow.
    Another reseller's claim is not found."""
    stored = _stored(services.database, _reseller_id(user), claim_id)
    claim = stored.claim
    return ClaimRead(
        **ClaimSummary.of(claim).model_dump(),
        reseller_name_on_agreement=claim.reseller_name_on_agreement,
        terms_accepted_version=claim.terms_accepted_version,
        terms_accepted_at=claim.terms_accepted_at,
        invoice=InvoiceRead(
            content_type=_content_type(claim.invoice_object_key), sha256=claim.invoice_sha256
        ),
        deadlines=ClaimDeadlines(
            review_deadline=claim.review_deadline,
            respond_by=claim.respond_by,
            payout_date=claim.payout_date,
            payout_due=claim.payout_due,
        ),
        next_step=_next_step(claim, services.settings.support_address),
        reasons=_reasons(claim),
        notices=stored.notices,
        timeline=stored.timeline,
    )


def _reasons(claim: Claim) -> list[str]:
    """Why the claim stands as it does, for the reseller: a rejection's or cancellation's
    reasons; under review, the reasons of a verdict that is not a plain yes (R8)."""
    if claim.outcome_reasons:
        return list(claim.outcome_reasons)
    if claim.status is ClaimStatus.UNDER_REVIEW and claim.verdict in (
        Verdict.INCONCLUSIVE,
        Verdict.INELIGIBLE,
    ):
        return [str(reason["detail"]) for reason in claim.verdict_reasons]
    return []


def _stored(database: Database, reseller_id: str, claim_id: str) -> _Stored:
    with database.reading() as session:
        claim = session.scalar(
            select(Claim).where(Claim.id == claim_id, Claim.reseller_id == reseller_id)
        )
        if claim is None:
            raise not_found(f"claim {claim_id}")
        timeline = [
            TimelineItem(
                at=entry.at,
                actor=entry.actor,
                event=entry.event,
                from_status=entry.from_status,
                to_status=entry.to_status,
                reason=entry.reason,
            )
            for entry in TimelineRepository(session).of(claim.id)
        ]
        notices = [
            NoticeItem(
                kind=notice.kind,
                number=notice.number,
                sent_at=notice.sent_at,
                respond_by=notice.respond_by,
            )
            for notice in NoticeRepository(session).of(claim.id)
            if not notice.kind.for_operators
        ]
        return _Stored(claim=claim, timeline=timeline, notices=notices)


def _next_step(claim: Claim, support: str) -> NextStep:
    """What the reseller must do next, or what the claim waits for."""
    status = claim.status
    if status in (ClaimStatus.AWAITING_BANK_DETAILS, ClaimStatus.PAYMENT_FAILED):
        if claim.respond_by is not None:
            return NextStep(
                action_required=True,
                detail=(
                    "Enter your company's bank details on the secure page linked in the latest "
                    f"e-mail by {claim.respond_by:%Y-%m-%d %H:%M} UTC (R10, R13); without valid "
                    "details after the third notification the claim is cancelled"
                ),
                respond_by=claim.respond_by,
            )
        return NextStep(
            action_required=False,
            detail="An e-mail with a link to the secure bank-details page is on its way (R10)",
        )
    if status is ClaimStatus.SUBMITTED:
        return NextStep(action_required=False, detail=f"Nothing to do. {_PRELIMINARY}")
    if status is ClaimStatus.UNDER_REVIEW:
        deadline = claim.review_deadline
        by = f" by {deadline.isoformat()}" if deadline else ""
        return NextStep(
            action_required=False,
            detail=f"Nothing to do: the claim is under review; the decision is due{by} (R9)",
        )
    if status is ClaimStatus.SCHEDULED_FOR_PAYMENT:
        on = f" on {claim.payout_date.isoformat()}" if claim.payout_date else ""
        return NextStep(
            action_required=False,
            detail=f"Nothing to do: the cash back is paid{on} (R14, R15)",
        )
    if status is ClaimStatus.PAID:
        on = f" on {claim.paid_on.isoformat()}" if claim.paid_on else ""
        return NextStep(action_required=False, detail=f"Nothing to do: the claim was paid{on}")
    why = f": {'; '.join(claim.outcome_reasons)}" if claim.outcome_reasons else ""
    return NextStep(
        action_required=False,
        detail=f"Nothing to do: the claim is {status.value.lower()}{why}. Questions: {support}",
    )


# ---- shared --------------------------------------------------------------------------------


def _reseller_id(user: SignedIn) -> str:
    assert user.reseller_id is not None  # ResellerUser guarantees it
    return user.reseller_id


def _amount(claim: Claim) -> Money | None:
    if claim.amount_minor_units is None or claim.currency is None:
        return None
    return Money(minor_units=claim.amount_minor_units, currency=claim.currency)


def _content_type(object_key: str) -> str:
    extension = object_key.rsplit(".", 1)[-1]
    for kind in _INVOICE_TYPES:
        if kind.extension == extension:
            return kind.content_type
    return "application/octet-stream"
