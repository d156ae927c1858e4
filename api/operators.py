"""Operators (R8, R9): the review queue with each claim's automatic verdict, the list of all
claims and its CSV export, one claim with its read model and timeline (all read from the
database, never from a workflow), the invoice download link, decisions sent to the claim's
workflow as an update (its validator has the last word), and the import of licensing records
from CSV."""

from __future__ import annotations

import base64
import binascii
import csv
import io
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Query, UploadFile
from fastapi.responses import StreamingResponse
from pydantic import AwareDatetime, BaseModel, Field, StringConstraints, model_validator
from sqlalchemy import select

from activities.payments import PaymentOutcome
from activities.records import TimelineEntry
from api.deps import OperatorUser, ServicesDep, links
from api.errors import ApiError, error_responses, not_found, nul_in_text
from api.limits import MULTIPART_ALLOWANCE, BodyCap
from cashback import review
from cashback.bank.simulated import BANK_DETAIL_ERRORS
from cashback.claims import ClaimState, DecisionKind, PayeeDecisionKind
from cashback.db import Database, TimelineRepository
from cashback.db.claim_lists import NO_DEADLINE, ClaimFilter, ClaimLists, ListedClaim
from cashback.db.tables import Claim, Reseller
from cashback.decisions import DecisionKey
from cashback.domain.eligibility import Reason, Verdict
from cashback.domain.money import Money
from cashback.domain.program_time import ProgramClock
from cashback.domain.status import ClaimStatus
from cashback.invoices import InvoiceNotFoundError, InvoiceStorageError
from cashback.licensing_import import (
    CSV_COLUMNS,
    MAX_QUANTITY,
    ImportReport,
    InvalidCsv,
    import_licensing_csv,
)
from cashback.review import ACCEPTED_CODES, ActionRefused, DecisionMade

router = APIRouter(tags=["operators"])

INVOICE_LINK_LIFETIME = timedelta(minutes=10)
MAX_CSV_BYTES = 5 * 1024 * 1024
# The import's whole request, capped by api.limits.BodyLimit while it arrives.
IMPORT_CAP = BodyCap(
    MAX_CSV_BYTES + MULTIPART_ALLOWANCE,
    "file_too_large",
    f"the CSV is larger than {MAX_CSV_BYTES // (1024 * 1024)} MB",
)


# ---- reading claims -------------------------------------------------------------------------


def _operator_claim(claim_id: str, user: OperatorUser, services: ServicesDep) -> ListedClaim:
    """The claim named in the path, for a signed-in operator; 404 when there is none."""
    with services.database.reading() as session:
        found = session.execute(
            select(Claim, Reseller.company_name, Reseller.country)
            .join(Reseller, Reseller.id == Claim.reseller_id)
            .where(Claim.id == claim_id)
        ).first()
    if found is None:
        raise not_found(f"claim {claim_id}")
    return ListedClaim(found[0], found[1], found[2])


OperatorClaim = Annotated[ListedClaim, Depends(_operator_claim)]


class VerdictRead(BaseModel):
    """R8: the automatic eligibility verdict, with the reasons a person reads."""

    verdict: Verdict
    eligible_licences: int
    reasons: list[Reason]


class ClaimFacts(BaseModel):
    """A claim as the database knows it: the row the API stored at submission and the read
    model its workflow keeps current (never a workflow query)."""

    claim_id: str
    workflow_id: str = Field(description="the claim's workflow, to look up in the Temporal UI")
    status: ClaimStatus
    reseller_id: str
    reseller_name: str = Field(description="the reseller's registered legal name (R1)")
    reseller_country: str
    offer_id: str
    agreement_number: str
    customer_name: str
    reseller_name_on_agreement: str
    received_at: AwareDatetime
    updated_at: AwareDatetime
    amount: Money | None = Field(description="D4: known once the claim is approved")
    review_deadline: date | None = Field(description="R9: the last business day of the review")
    verdict: VerdictRead | None = Field(description="R8: the automatic verdict, once in")
    escalated: bool = Field(description="R9: the deadline passed without a conclusive verdict")
    awaiting_budget: bool = Field(
        default=False,
        description="D7: approved, but the offer's budget cannot cover it: top it up or decide",
    )
    awaiting_payee_decision: bool = Field(
        default=False,
        description=(
            "issue 14, R11: the bank could not verify the payee (VoP NOAP): pay to these "
            "details or ask for other ones (POST /operator/claims/{claim_id}/payee-decision)"
        ),
    )
    awaiting_payment_result: bool = Field(
        default=False,
        description=(
            "issue 14, R14: the bank answered the payout ambiguously (MS03, FRAD...): enter its "
            "result (POST /operator/claims/{claim_id}/payment-result)"
        ),
    )
    decided_by: str | None = Field(description="who approved or rejected the claim")
    final_confirmation_on: date | None = Field(description="R14: the 45 days start here")
    respond_by: AwareDatetime | None = Field(description="R10, R16: bank details due by")
    payout_date: date | None = Field(description="R14, R15: the payout is scheduled on")
    payout_due: date | None = Field(description="R14: 45 days after the final confirmation")
    payout_overdue: bool = Field(description="R14: the payout is or will be late")
    paid_on: date | None
    bank_reference: str | None = Field(description="the bank's reference of the payout")
    bank_return_code: str | None = Field(description="R16: the bank's ISO 20022 return code")
    outcome_reasons: list[str] = Field(description="why it was rejected or cancelled")

    @classmethod
    def facts_of(cls, listed: ListedClaim, time_scale: float) -> dict[str, Any]:
        """The facts of a listed claim; its instants on the claim's program clock (a demo's:
        `time_scale` < 1)."""
        claim = listed.claim
        clock = ProgramClock(origin=claim.created_at, time_scale=time_scale)
        amount = (
            Money(minor_units=claim.amount_minor_units, currency=claim.currency)
            if claim.amount_minor_units is not None and claim.currency is not None
            else None
        )
        verdict = (
            VerdictRead(
                verdict=claim.verdict,
                eligible_licences=claim.eligible_licences or 0,
                reasons=[Reason.model_validate(reason) for reason in claim.verdict_reasons],
            )
            if claim.verdict is not None
            else None
        )
        return {
            "claim_id": claim.id,
            "workflow_id": claim.workflow_id,
            "status": claim.status,
            "reseller_id": claim.reseller_id,
            "reseller_name": listed.reseller_name,
            "reseller_country": listed.reseller_country,
            "offer_id": claim.offer_id,
            "agreement_number": claim.agreement_number,
            "customer_name": claim.customer_name,
            "reseller_name_on_agreement": claim.reseller_name_on_agreement,
            "received_at": claim.created_at,
            "updated_at": clock.shown(claim.updated_at),
            "amount": amount,
            "review_deadline": claim.review_deadline,
            "verdict": verdict,
            "escalated": claim.escalated,
            "awaiting_budget": claim.awaiting_budget,
            "awaiting_payee_decision": claim.awaiting_payee_decision,
            "awaiting_payment_result": claim.awaiting_payment_result,
            "decided_by": claim.decided_by,
            "final_confirmation_on": claim.final_confirmation_on,
            "respond_by": clock.shown_or_none(claim.respond_by),
            "payout_date": claim.payout_date,
            "payout_due": claim.payout_due,
            "payout_overdue": claim.payout_overdue,
            "paid_on": claim.paid_on,
            "bank_reference": claim.bank_reference,
            "bank_return_code": claim.bank_return_code,
            "outcome_reasons": list(claim.outcome_reasons),
        }


class ClaimItem(ClaimFacts):
    @classmethod
    def of(cls, listed: ListedClaim, time_scale: float) -> ClaimItem:
        return cls(**cls.facts_of(listed, time_scale))


class ClaimList(BaseModel):
    claims: list[ClaimItem]
    total: int = Field(description="claims of the selection in all")
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null: last")


@dataclass(frozen=True)
class _Filters:
    """The filters of the operators' lists, from the query string."""

    selection: ClaimFilter


async def _filters(  # async: no I/O, so no hop to the thread pool
    offer_id: Annotated[str | None, Query(max_length=64)] = None,
    reseller_id: Annotated[str | None, Query(max_length=64)] = None,
    country: Annotated[
        str | None, Query(pattern=r"^[A-Za-z]{2}$", description="the reseller's country")
    ] = None,
    verdict: Annotated[Verdict | None, Query(description="R8: the automatic verdict")] = None,
    escalated: Annotated[bool | None, Query(description="R9: escalated or not")] = None,
    awaiting_budget: Annotated[
        bool | None, Query(description="D7: waiting for a top-up of the offer's budget")
    ] = None,
    awaiting_payee_decision: Annotated[
        bool | None, Query(description="VoP NOAP: waiting for an operator's payee decision")
    ] = None,
    deadline_before: Annotated[
        date | None, Query(description="R9: review deadline before this day")
    ] = None,
) -> _Filters:
    if "\x00" in (offer_id or "") + (reseller_id or ""):
        raise nul_in_text()  # refused before any query: PostgreSQL cannot compare it
    return _Filters(
        ClaimFilter(
            offer_id=offer_id,
            reseller_id=reseller_id,
            country=country,
            verdict=verdict,
            escalated=escalated,
            awaiting_budget=awaiting_budget,
            awaiting_payee_decision=awaiting_payee_decision,
            deadline_before=deadline_before,
        )
    )


Filters = Annotated[_Filters, Depends(_filters)]
_Limit = Annotated[int, Query(ge=1, le=200, description="claims per page")]
_Cursor = Annotated[
    str | None, Query(max_length=200, description="`next_cursor` of the page before")
]


def _cursor(*parts: str) -> str:
    return base64.urlsafe_b64encode(json.dumps(parts).encode()).decode().rstrip("=")


def _parts(cursor: str) -> list[str]:
    try:
        parts = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not (
            isinstance(parts, list) and len(parts) == 2 and all(isinstance(p, str) for p in parts)
        ):
            raise ValueError(cursor)
    except (ValueError, TypeError, binascii.Error):
        raise ApiError(
            422, "invalid_cursor", "cursor: pass the `next_cursor` of a page unchanged"
        ) from None
    return parts


def _review_page(
    database: Database, selection: ClaimFilter, limit: int, cursor: str | None, time_scale: float
) -> ClaimList:
    after = None
    if cursor is not None:
        day, claim_id = _parts(cursor)
        try:
            after = (date.fromisoformat(day), claim_id)
        except ValueError:
            raise ApiError(422, "invalid_cursor", "cursor: pass `next_cursor` unchanged") from None
    with database.reading() as session:
        lists = ClaimLists(session)
        page = lists.by_deadline(selection, limit + 1, after)
        total = lists.count(selection)
    more, page = len(page) > limit, page[:limit]
    last = page[-1].claim if page else None
    return ClaimList(
        claims=[ClaimItem.of(listed, time_scale) for listed in page],
        total=total,
        next_cursor=_cursor((last.review_deadline or NO_DEADLINE).isoformat(), last.id)
        if more and last
        else None,
    )


_OF_FIRST = {"claim_id": "$response.body#/claims/0/claim_id"}
_OF_THIS = {"claim_id": "$response.body#/claim_id"}
_OF_PATH = {"claim_id": "$request.path.claim_id"}
_TO_FIRST = links(
    GetFirstClaim=("get", "/operator/claims/{claim_id}", _OF_FIRST),
    GetFirstInvoice=("get", "/operator/claims/{claim_id}/invoice", _OF_FIRST),
    DecideFirst=("post", "/operator/claims/{claim_id}/decision", _OF_FIRST),
    EnterFirstPaymentResult=("post", "/operator/claims/{claim_id}/payment-result", _OF_FIRST),
)
# The list's links have names of their own (a state machine names its steps by them).
_TO_FIRST_LISTED = links(
    GetFirstListedClaim=("get", "/operator/claims/{claim_id}", _OF_FIRST),
    GetFirstListedInvoice=("get", "/operator/claims/{claim_id}/invoice", _OF_FIRST),
)


@router.get(
    "/operator/review-queue",
    response_model=ClaimList,
    responses={200: _TO_FIRST, **error_responses(401, 403, 422)},
)
def review_queue(
    user: OperatorUser,
    services: ServicesDep,
    filters: Filters,
    limit: _Limit = 50,
    cursor: _Cursor = None,
) -> ClaimList:
    """R8, R9: the claims under review, the earliest review deadline first, each with the
    automatic verdict and its reasons and whether it was escalated; filtered by offer,
    reseller, country, verdict, escalation or a deadline before a day. Read from the
    database: a page costs the same whatever the queue's length, and no workflow is asked."""
    selection = replace(filters.selection, status=ClaimStatus.UNDER_REVIEW)
    return _review_page(
        services.database, selection, limit, cursor, services.settings.policy.time_scale
    )


@router.get(
    "/operator/claims",
    response_model=ClaimList,
    responses={200: _TO_FIRST_LISTED, **error_responses(401, 403, 422)},
)
def list_claims(
    user: OperatorUser,
    services: ServicesDep,
    filters: Filters,
    status: Annotated[ClaimStatus | None, Query(description="any status if not given")] = None,
    limit: _Limit = 50,
    cursor: _Cursor = None,
) -> ClaimList:
    """Every claim, newest first, with the review queue's filters and a status; the export of
    the same selection is `GET /operator/claims.csv`."""
    selection = replace(filters.selection, status=status)
    after = None
    if cursor is not None:
        at, claim_id = _parts(cursor)
        try:
            after = (datetime.fromisoformat(at), claim_id)
        except ValueError:
            raise ApiError(422, "invalid_cursor", "cursor: pass `next_cursor` unchanged") from None
    with services.database.reading() as session:
        lists = ClaimLists(session)
        page = lists.newest_first(selection, limit + 1, after)
        total = lists.count(selection)
    more, page = len(page) > limit, page[:limit]
    last = page[-1].claim if page else None
    return ClaimList(
        claims=[ClaimItem.of(listed, services.settings.policy.time_scale) for listed in page],
        total=total,
        next_cursor=_cursor(last.created_at.isoformat(), last.id) if more and last else None,
    )


CSV_EXPORT_COLUMNS = (
    "claim_id", "status", "received_at", "reseller_id", "reseller_name", "reseller_country",
    "offer_id", "agreement_number", "customer_name", "review_deadline", "verdict", "escalated",
    "decided_by", "amount_minor_units", "currency", "final_confirmation_on", "payout_date",
    "payout_due", "payout_overdue", "paid_on", "bank_reference", "bank_return_code",
)  # fmt: skip


def _csv_rows(database: Database, selection: ClaimFilter) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_EXPORT_COLUMNS)
    with database.reading() as session:
        for listed in ClaimLists(session).every(selection):
            claim = listed.claim
            writer.writerow(
                [
                    claim.id, claim.status.value, claim.created_at.isoformat(), claim.reseller_id,
                    _cell(listed.reseller_name), listed.reseller_country, claim.offer_id,
                    _cell(claim.agreement_number), _cell(claim.customer_name),
                    claim.review_deadline or "", claim.verdict or "", claim.escalated,
                    claim.decided_by or "", claim.amount_minor_units or "", claim.currency or "",
                    claim.final_confirmation_on or "", claim.payout_date or "",
                    claim.payout_due or "", claim.payout_overdue, claim.paid_on or "",
                    claim.bank_reference or "", claim.bank_return_code or "",
                ]
            )  # fmt: skip
            if buffer.tell() > 64 * 1024:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
    yield buffer.getvalue()


def _cell(text: str) -> str:
    """A text cell a spreadsheet will not run as a formula (CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@router.get(
    "/operator/claims.csv",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/csv": {}}, "description": "the selection as CSV"},
        **error_responses(401, 403, 422),
    },
)
def export_claims(
    user: OperatorUser,
    services: ServicesDep,
    filters: Filters,
    status: Annotated[ClaimStatus | None, Query(description="any status if not given")] = None,
) -> StreamingResponse:
    """The claims of `GET /operator/claims`'s selection as CSV (UTF-8), newest first."""
    selection = replace(filters.selection, status=status)
    rows = _csv_rows(services.database, selection)
    first = next(rows)  # the first rows are read before the answer starts: errors answer 5xx
    return StreamingResponse(
        itertools.chain([first], rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="claims.csv"'},
    )


class OperatorClaimRead(ClaimFacts):
    terms_accepted_version: str
    terms_accepted_at: AwareDatetime
    invoice_sha256: str
    timeline: list[TimelineEntry] = Field(description="D3: every status change and event")


def _timeline(database: Database, claim_id: str, clock: ProgramClock) -> list[TimelineEntry]:
    with database.reading() as session:
        return [
            entry.model_copy(update={"projection": None, "at": clock.shown(entry.at)})
            for entry in TimelineRepository(session).of(claim_id)
        ]


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
def operator_claim(claim: OperatorClaim, services: ServicesDep) -> OperatorClaimRead:
    """Any claim, with its read model and timeline (D3), from the database; a demo's
    instants in program time."""
    time_scale = services.settings.policy.time_scale
    clock = ProgramClock(origin=claim.claim.created_at, time_scale=time_scale)
    return OperatorClaimRead(
        **ClaimFacts.facts_of(claim, time_scale),
        terms_accepted_version=claim.claim.terms_accepted_version,
        terms_accepted_at=clock.shown(claim.claim.terms_accepted_at),
        invoice_sha256=claim.claim.invoice_sha256,
        timeline=_timeline(services.database, claim.claim.id, clock),
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


def _not_taken(refused: ActionRefused) -> ApiError:
    status = 503 if refused.unavailable else 409
    if refused.code == "unknown_return_code":
        status = 422
    return ApiError(status, refused.code, refused.detail)


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
    made = DecisionMade(
        kind=decision.kind,
        reasons=tuple(decision.reasons),
        licences=decision.licences,
        sale_date=decision.sale_date,
    )
    key = DecisionKey(services.settings.decision_key_bytes)
    try:
        state = await review.decide(services.temporal, key, claim.claim, user.email, made)
    except ActionRefused as refused:
        raise _not_taken(refused) from None
    clock = ProgramClock(
        origin=claim.claim.created_at, time_scale=services.settings.policy.time_scale
    )
    return _shown_state(state, clock)


class PayeeDecisionCreate(BaseModel):
    """An operator's decision on bank details whose payee the bank could not verify (VoP
    NOAP, issue 14, R11)."""

    kind: PayeeDecisionKind = Field(
        description="pay_to_these_details, or ask_for_other_details (a correction request, R10)"
    )
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] = Field(
        default="", description="why, for the claim's timeline"
    )


@router.post(
    "/operator/claims/{claim_id}/payee-decision",
    response_model=ClaimState,
    responses={
        200: links(GetClaim=("get", "/operator/claims/{claim_id}", _OF_PATH)),
        **error_responses(400, 401, 403, 404, 409, 422, 503),
    },
)
async def decide_payee(
    decision: PayeeDecisionCreate, claim: OperatorClaim, user: OperatorUser, services: ServicesDep
) -> ClaimState:
    """Issue 14, R11: the bank could not verify the payee of the claim's bank details (VoP
    NOAP; the claim shows `awaiting_payee_decision`): pay to these details, or ask the reseller
    for other ones. Sent to the claim's workflow as the `decide_payee` update, signed for the
    signed-in operator (D3); a claim that does not wait for such a decision answers 409."""
    key = DecisionKey(services.settings.decision_key_bytes)
    try:
        state = await review.decide_payee(
            services.temporal, key, claim.claim, user.email, decision.kind, decision.reason
        )
    except ActionRefused as refused:
        raise _not_taken(refused) from None
    clock = ProgramClock(
        origin=claim.claim.created_at, time_scale=services.settings.policy.time_scale
    )
    return _shown_state(state, clock)


def _shown_state(state: ClaimState, clock: ProgramClock) -> ClaimState:
    """The workflow's answer with its instants on the claim's program clock (a demo's)."""
    return state.model_copy(
        update={
            "respond_by": clock.shown_or_none(state.respond_by),
            "notices": [
                notice.model_copy(
                    update={
                        "sent_at": clock.shown(notice.sent_at),
                        "respond_by": clock.shown_or_none(notice.respond_by),
                    }
                )
                for notice in state.notices
            ],
        }
    )


# ---- payment results the operators decide ---------------------------------------------------


class PaymentResultEntry(BaseModel):
    """The answer to a payment of a released run, e.g. one the bank answered ambiguously
    (ISO 20022 code)."""

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
    entry: PaymentResultEntry, claim: OperatorClaim, user: OperatorUser, services: ServicesDep
) -> PaymentResultRead:
    """R14, R16: enter the answer to the claim's pending payment once its run is released,
    above all for one the bank answered ambiguously (`GET /operator/payments/escalated`): paid,
    or rejected for bank-detail reasons, which starts the update loop of R16. 409 while the
    payment waits for a run."""
    try:
        result = review.bank_answer(entry.return_code, entry.bank_reference)
        answered = await review.enter_payment_result(
            services.database, services.temporal, claim.claim.id, result, user.email
        )
    except ActionRefused as refused:
        raise _not_taken(refused) from None
    return PaymentResultRead(
        idempotency_key=answered.idempotency_key,
        outcome=answered.outcome,
        return_code=entry.return_code,
    )


# ---- licensing records --------------------------------------------------------------------------


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
    try:
        return import_licensing_csv(services.database, text)
    except InvalidCsv as error:
        raise ApiError(422, "invalid_csv", str(error)) from None
