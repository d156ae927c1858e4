"""Claims: submission, listing and one claim with its timeline (R4, R5, R6, R7, D1, D2, D3).

A submission is checked early with the rules the workflow also applies, its invoice is stored,
the claim row is written and the claim's workflow is started under an id derived from the
claim, so Temporal itself refuses a second start. Reading a claim combines the database's
projection (status, timeline, notices) with the workflow's `state` query (deadlines).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import date, datetime, timedelta
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
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import AwareDatetime, BaseModel, Field
from sqlalchemy import and_, or_, select
from starlette.exceptions import HTTPException

from activities.records import TimelineEvent
from api.deps import ResellerUser, ServicesDep, SignedIn, links
from api.errors import ApiError, error_responses, not_found
from api.limits import MULTIPART_ALLOWANCE, BodyCap, BodyTooLarge
from cashback.db import (
    Database,
    NoticeRepository,
    TimelineRepository,
)
from cashback.db.tables import Claim
from cashback.domain.agreements import agreement_number as canonical_agreement_number
from cashback.domain.eligibility import Verdict
from cashback.domain.money import Money
from cashback.domain.names import PlainText
from cashback.domain.status import ClaimStatus, NoticeKind
from cashback.submissions import (
    Refusal,
    Submission,
    SubmissionRefused,
    Upload,
    check_complete,
    invoice_content_type,
    submit,
)

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
    submission = Submission(
        offer_id=offer_id.strip(),
        agreement_number=canonical_agreement_number(agreement_number),
        customer_name=customer_name.strip(),
        reseller_name=reseller_name.strip(),
        terms_accepted_version=(terms_accepted_version or "").strip() or None,
    )
    try:
        check_complete(submission)  # before the invoice is read
        upload = await _read_invoice(invoice)
        submitted = await submit(
            services.submissions, _reseller_id(user), submission, upload, idempotency_key
        )
    except SubmissionRefused as refusal:
        raise _refused(refusal) from None
    if submitted.again:
        response.status_code = 200
    else:
        response.headers["Location"] = f"/claims/{submitted.claim.id}"
    return _submitted(submitted.claim)


async def _read_invoice(invoice: UploadFile | None) -> Upload:
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
    return Upload(b"".join(chunks), invoice.content_type or "", invoice.filename or "")


def _submitted(claim: Claim) -> ClaimSubmitted:
    return ClaimSubmitted(
        claim_id=claim.id,
        status=claim.status,
        offer_id=claim.offer_id,
        agreement_number=claim.agreement_number,
        submitted_at=claim.created_at,
        message=f"Claim {claim.id} was received. {_PRELIMINARY}",
    )


_STATUS = {
    Refusal.INVALID: 422,
    Refusal.NOT_FOUND: 404,
    Refusal.CONFLICT: 409,
    Refusal.UNSUPPORTED_TYPE: 415,
    Refusal.UNAVAILABLE: 503,
}


def _refused(refusal: SubmissionRefused) -> ApiError:
    headers = {"Retry-After": "30"} if refusal.kind is Refusal.UNAVAILABLE else None
    return ApiError(_STATUS[refusal.kind], refusal.code, refusal.detail, headers=headers)


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
            content_type=invoice_content_type(claim.invoice_object_key), sha256=claim.invoice_sha256
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
            if not entry.event.for_operators
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
