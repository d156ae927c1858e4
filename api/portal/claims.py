"""The portal's offers and claims: the offers open to the reseller with their terms (R2-R4,
R6), the claim form with the invoice upload (R5, D1, D2), the list of the reseller's claims and
one claim's page (D3, R9, R10, R14, R17). Each page reads the same services as the API
(cashback/offers.py, cashback/submissions.py, cashback/reseller_claims.py) and renders."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, UploadFile
from fastapi.responses import Response
from pydantic import TypeAdapter, ValidationError

from api.claims import (
    MAX_INVOICE_BYTES,
    decode_cursor,
    encode_cursor,
    read_invoice,
    submission_of,
)
from api.errors import ApiError
from api.portal.web import PORTAL, PortalProblem, PostingReseller, ResellerVisitor, Visitor
from cashback.db.tables import Offer, Reseller
from cashback.domain.names import PlainText
from cashback.domain.program_time import ProgramClock
from cashback.domain.status import ClaimStatus
from cashback.offers import open_offer, open_offers
from cashback.reseller_claims import amount_of, own_claim, own_claims
from cashback.submissions import SubmissionRefused, check_complete, submit

router = APIRouter(prefix=PORTAL, include_in_schema=False)

CLAIMS_PER_PAGE = 25
# The field a refusal is shown next to (R4 and other offer problems: at the top of the form).
_FIELD_OF = {
    "claim_incomplete": "",
    "invalid_text": "",
    "duplicate_claim": "agreement_number",  # D1
    "terms_not_accepted": "terms_accepted_version",  # R6
    "terms_version_mismatch": "terms_accepted_version",
    "invoice_missing": "invoice",  # R5
    "invoice_too_large": "invoice",
    "invoice_type_mismatch": "invoice",
    "invoice_type_unsupported": "invoice",
    "invoice_not_a_file": "invoice",
    "offer_not_open": "offer",  # R4
    "offer_not_found": "offer",
    "idempotency_key_reused": "",
    "service_unavailable": "",
}
_PLAIN_TEXT: TypeAdapter[str] = TypeAdapter(PlainText)
Text = Annotated[str, Form(max_length=255)]


def _reseller_name(visitor: Visitor) -> str:
    with visitor.services.database.reading() as session:
        return session.get_one(Reseller, visitor.reseller_id).company_name


@router.get("/offers")
def offers(visitor: ResellerVisitor) -> Response:
    """R2, R4, R6: the offers open to this reseller now, with criteria, period, rate, limits
    and the Terms and Conditions."""
    found = open_offers(visitor.services.database, visitor.reseller_id, datetime.now(UTC))
    return visitor.render("offers.html", offers=found)


def _claim_form(
    visitor: Visitor,
    offer: Offer,
    *,
    entered: dict[str, str] | None = None,
    errors: dict[str, tuple[str, str]] | None = None,
    status_code: int = 200,
) -> Response:
    entered = entered or {
        "agreement_number": "",
        "customer_name": "",
        "reseller_name": _reseller_name(visitor),
        "terms_accepted_version": "",
        # D2: one key per form shown; a second click or a resubmission sends it again.
        "idempotency_key": f"portal-{secrets.token_urlsafe(16)}",
    }
    return visitor.render(
        "claim_form.html",
        status_code,
        offer=offer,
        entered=entered,
        errors=errors or {},
        max_invoice_bytes=MAX_INVOICE_BYTES,
    )


@router.get("/claims/new")
def claim_form(
    visitor: ResellerVisitor, offer: Annotated[str, Query(max_length=64)] = ""
) -> Response:
    """R5, R6: the claim form of an offer open to the reseller (404 otherwise)."""
    found = open_offer(visitor.services.database, visitor.reseller_id, offer, datetime.now(UTC))
    if found is None:
        raise PortalProblem(404, "offer_not_open", visitor)
    return _claim_form(visitor, found)


@router.post("/claims")
async def submit_claim(
    visitor: PostingReseller,
    offer_id: Annotated[str, Form(max_length=64)] = "",
    agreement_number: Annotated[str, Form(max_length=64)] = "",
    customer_name: Text = "",
    reseller_name: Text = "",
    terms_accepted_version: Annotated[str, Form(max_length=64)] = "",
    idempotency_key: Annotated[str, Form(max_length=100)] = "",
    invoice: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """R4, R5, R6, D1, D2: the API's submission service; a refusal is shown next to its field
    (nothing stored); a resubmission with the form's idempotency key shows the claim stored
    the first time (D2). Then the claim's page."""
    entered = {
        "agreement_number": agreement_number,
        "customer_name": customer_name,
        "reseller_name": reseller_name,
        "terms_accepted_version": terms_accepted_version,
        "idempotency_key": idempotency_key or f"portal-{secrets.token_urlsafe(16)}",
    }
    with visitor.services.database.reading() as session:
        offer = session.get(Offer, offer_id)
    if offer is None:
        raise PortalProblem(404, "offer_not_open", visitor)
    errors: dict[str, tuple[str, str]] = {}
    for name in ("customer_name", "reseller_name"):
        try:
            _PLAIN_TEXT.validate_python(entered[name])
        except ValidationError as invalid:
            errors[name] = ("invalid_text", str(invalid.errors()[0]["msg"]))
    if errors:
        return _claim_form(visitor, offer, entered=entered, errors=errors, status_code=422)
    submission = submission_of(
        offer_id, agreement_number, customer_name, reseller_name, terms_accepted_version
    )
    try:
        check_complete(submission)  # before the invoice is read
        upload = await read_invoice(invoice)
        submitted = await submit(
            visitor.services.submissions,
            visitor.reseller_id,
            submission,
            upload,
            entered["idempotency_key"],
        )
    except SubmissionRefused as refused:
        code, detail = refused.code, refused.detail
    except ApiError as refused:  # the invoice: missing or too large
        code, detail = refused.error, refused.detail
    else:
        return visitor.redirect(f"{PORTAL}/claims/{submitted.claim.id}")
    if code == "claim_incomplete":
        for name in ("agreement_number", "customer_name", "reseller_name"):
            if not entered[name].strip():
                errors[name] = ("missing", detail)
    else:
        errors[_FIELD_OF.get(code, "")] = (code, detail)
    status = 409 if code == "duplicate_claim" else 422
    return _claim_form(visitor, offer, entered=entered, errors=errors, status_code=status)


@router.get("/claims")
def claims(
    visitor: ResellerVisitor,
    status: Annotated[str, Query(max_length=32)] = "",
    cursor: Annotated[str | None, Query(max_length=256)] = None,
) -> Response:
    """The reseller's claims, newest first, filtered by status, a page at a time."""
    chosen = ClaimStatus(status) if status in set(ClaimStatus) else None
    try:
        after = decode_cursor(cursor) if cursor else None
    except ApiError:
        raise PortalProblem(422, "invalid_cursor", visitor) from None
    rows = own_claims(
        visitor.services.database,
        visitor.reseller_id,
        status=chosen,
        limit=CLAIMS_PER_PAGE + 1,
        after=after,
    )
    page, more = rows[:CLAIMS_PER_PAGE], len(rows) > CLAIMS_PER_PAGE
    return visitor.render(
        "claims.html",
        claims=[(claim, amount_of(claim)) for claim in page],
        statuses=list(ClaimStatus),
        chosen=chosen.value if chosen else "",
        next_cursor=encode_cursor(page[-1]) if more else None,
    )


@router.get("/claims/{claim_id}")
def claim(visitor: ResellerVisitor, claim_id: str) -> Response:
    """One of the reseller's claims: status, amount, deadlines, next step, reasons, the
    bank-details request, the remittance, the timeline (D3). Another's claim is 404."""
    found = own_claim(visitor.services.database, visitor.reseller_id, claim_id)
    if found is None:
        raise PortalProblem(404, "claim_not_found", visitor)
    requests = [notice for notice in found.notices if notice.kind.asks_for_bank_details]
    return visitor.render(
        "claim.html",
        own=found,
        claim=found.claim,
        amount=found.amount,
        reasons=found.reasons,
        last_request=requests[-1] if requests else None,
        # The instants a person reads, on the claim's program clock (a demo's days are short).
        shown=ProgramClock(
            origin=found.claim.created_at,
            time_scale=visitor.services.settings.policy.time_scale,
        ).shown_or_none,
    )
