"""The secure bank-details page (R10-R13), server-rendered in German and English.

Each request notice links to `/bank-details/{token}` (`cashback.wiring.bank_details_link`): a
one-time token that expires with the notice. GET shows the form, or offers to confirm the
details on file; POST checks IBAN and BIC on the spot (a typo costs nothing: the token is not
spent and the workflow hears nothing), then stores the details encrypted, spends the token and
hands the workflow the reference (update `submit_bank_details`), mails the reseller that the
claim's bank details changed (masked, api/bank_details_changes.py), and says what happens next.
The link sets that one claim's details only: details for all later claims (R10's standing
confirmation) need a signed-in user (`PUT /account/bank-details`).

CSRF: the page has no cookies and no session; the unguessable token in the URL is the only
credential, so a forged cross-site POST would need the token it is trying to steal. A hidden
nonce would add nothing (SameSite does not apply: there is no cookie to send).

The IBAN is never logged, and is shown only masked (`DE89 **** ... 3000`), not even refilled
into the form after an error.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from schwifty import BIC, IBAN
from schwifty.exceptions import (
    InvalidChecksumDigits,
    InvalidCountryCode,
    InvalidLength,
    SchwiftyException,
)
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError

from api.deps import ServicesDep
from api.services import Services
from cashback.bank_details_changes import tell_claim_change
from cashback.claims import BankDetailsSubmission, claim_workflow_id
from cashback.db import BankDetails, mask_iban
from cashback.db.tables import BankDetailsInvitation, Claim, Offer, Reseller
from cashback.domain.money import Money
from cashback.domain.names import control_characters
from cashback.domain.payout import BankDetailsJudgement, HolderType
from cashback.domain.reseller import Language
from cashback.domain.status import ClaimStatus
from cashback.mail.render import format_moment, format_money

router = APIRouter(tags=["bank details"], include_in_schema=False)
log = logging.getLogger(__name__)

PAGES = Path(__file__).resolve().parents[1] / "templates" / "pages"

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self' 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "Referrer-Policy": "no-referrer",  # the token must not leave in a Referer header
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}

HOLDER_NAME_MAX = 70  # SEPA: the account holder's name has at most 70 characters
_ACCEPTING = {ClaimStatus.AWAITING_BANK_DETAILS, ClaimStatus.PAYMENT_FAILED}


class Problem(StrEnum):
    """Why the page cannot take bank details; each has its own text and status."""

    UNKNOWN = "unknown"  # 404: no such link
    USED = "used"  # 410: the link worked once already
    EXPIRED = "expired"  # 410: the notice's respond-by time has passed
    CLOSED = "closed"  # 409: the claim no longer waits for bank details
    UNAVAILABLE = "unavailable"  # 503: the workflow service does not answer

    @property
    def status_code(self) -> int:
        return {"unknown": 404, "used": 410, "expired": 410, "closed": 409}.get(self.value, 503)


class _Refused(Exception):
    def __init__(self, problem: Problem, language: Language) -> None:
        super().__init__(problem.value)
        self.problem = problem
        self.language = language


@dataclass(frozen=True)
class Invitation:
    """The page's view of one link: its claim and what the reseller is shown of it."""

    claim_id: str
    reseller_id: str
    expires_at: datetime
    language: Language
    company_name: str
    agreement_number: str
    offer_name: str
    amount: Money | None
    bank_details_ref: str | None  # the details on file (after a payment failure)
    masked_on_file: str | None  # the same, masked


@dataclass
class Entered:
    """The form as submitted; `iban` is never rendered back."""

    holder_name: str = ""
    holder_type: str = HolderType.COMPANY.value
    iban: str = field(default="", repr=False)
    bic: str = ""


def _pages() -> Environment:
    env = Environment(
        loader=FileSystemLoader(PAGES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        money=lambda amount, language: format_money(amount, Language(language)),
        moment=lambda moment, language: format_moment(moment, Language(language)),
    )
    return env


_PAGES = _pages()


def render(template: str, status_code: int, language: Language, **context: Any) -> HTMLResponse:
    """A page of templates/pages in `language`, with the security headers."""
    html = _PAGES.get_template(template).render(language=language.value, **context)
    return HTMLResponse(html, status_code=status_code, headers=SECURITY_HEADERS)


def _language(lang: str | None, accept_language: str | None, fallback: Language | None) -> Language:
    """`?lang=` wins, then the reseller's language, then the browser's."""
    if lang in {language.value for language in Language}:
        return Language(lang)
    if fallback is not None:
        return fallback
    preferred = (accept_language or "").strip().lower()
    return Language.GERMAN if preferred.startswith("de") else Language.ENGLISH


@dataclass(frozen=True)
class _Link:
    claim_id: str
    expires_at: datetime
    used: bool
    reseller_id: str
    language: Language
    company_name: str
    agreement_number: str
    offer_name: str
    status: ClaimStatus
    amount: Money | None
    bank_details_ref: str | None


def _find(services: Services, token: str) -> _Link:
    """What the database knows of a link; raises `LookupError` for an unknown one."""
    # The invitations keep only the token's SHA-256 (cashback/db/invitations.py).
    digest = hashlib.sha256(token.encode()).hexdigest()
    with services.database.reading() as session:
        invitation = session.get(BankDetailsInvitation, digest)
        claim = session.get(Claim, invitation.claim_id) if invitation else None
        if invitation is None or claim is None:
            raise LookupError("no such link")
        reseller = session.get_one(Reseller, claim.reseller_id)
        return _Link(
            claim_id=claim.id,
            expires_at=invitation.expires_at,
            used=invitation.used_at is not None,
            reseller_id=claim.reseller_id,
            language=reseller.language,
            company_name=reseller.company_name,
            agreement_number=claim.agreement_number,
            offer_name=session.get_one(Offer, claim.offer_id).name,
            status=claim.status,
            amount=Money(minor_units=claim.amount_minor_units, currency=claim.currency)
            if claim.amount_minor_units is not None and claim.currency is not None
            else None,
            bank_details_ref=claim.bank_details_ref,
        )


async def _open(services: Services, token: str, lang: str | None, accept: str | None) -> Invitation:
    """The invitation behind a link that may still take bank details, read from the database
    (the claim's read model, never its workflow); raises `_Refused`."""
    try:
        link = await run_in_threadpool(_find, services, token)
    except LookupError:
        raise _Refused(Problem.UNKNOWN, _language(lang, accept, None)) from None
    language = _language(lang, accept, link.language)
    if link.used:
        raise _Refused(Problem.USED, language)
    if link.expires_at <= datetime.now(UTC):
        raise _Refused(Problem.EXPIRED, language)
    if link.status not in _ACCEPTING:
        raise _Refused(Problem.CLOSED, language)
    masked = None
    if link.bank_details_ref is not None:
        masked = await run_in_threadpool(services.bank_accounts.masked, link.bank_details_ref)
    return Invitation(
        claim_id=link.claim_id,
        reseller_id=link.reseller_id,
        expires_at=link.expires_at,
        language=language,
        company_name=link.company_name,
        agreement_number=link.agreement_number,
        offer_name=link.offer_name,
        amount=link.amount,
        bank_details_ref=link.bank_details_ref,
        masked_on_file=masked,
    )


def _problem_page(refused: _Refused, services: Services) -> HTMLResponse:
    return render(
        "problem.html",
        refused.problem.status_code,
        refused.language,
        problem=refused.problem.value,
        support_address=services.settings.support_address,
    )


def _form_page(
    invitation: Invitation,
    services: Services,
    action: str,
    *,
    entered: Entered | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    entered = entered or Entered()
    masked_entry = None
    if errors and "iban" not in errors and entered.iban:
        masked_entry = mask_iban(entered.iban)  # valid, but must be typed again
    return render(
        "bank_details.html",
        status_code,
        invitation.language,
        invitation=invitation,
        amount=invitation.amount,
        action=action,
        entered=entered,
        errors=errors or {},
        masked_entry=masked_entry,
        holder_name_max=HOLDER_NAME_MAX,
        support_address=services.settings.support_address,
    )


def check(entered: Entered) -> tuple[BankDetails | None, dict[str, str]]:
    """The entered details, or the error (a message key) per field. IBAN and BIC are checked
    with schwifty; exception texts are not used (they may quote the IBAN)."""
    errors: dict[str, str] = {}
    name = " ".join(entered.holder_name.split())
    if control_characters(entered.holder_name):  # before split() turns line breaks into spaces
        errors["holder_name"] = "holder_name_control_characters"
    elif not name:
        errors["holder_name"] = "holder_name_missing"
    elif len(name) > HOLDER_NAME_MAX:
        errors["holder_name"] = "holder_name_too_long"
    if entered.holder_type not in {holder.value for holder in HolderType}:
        errors["holder_type"] = "holder_type_missing"
    iban = "".join(entered.iban.split()).upper()
    if not iban:
        errors["iban"] = "iban_missing"
    else:
        try:
            iban = IBAN(iban).compact
        except InvalidChecksumDigits:
            errors["iban"] = "iban_checksum"
        except InvalidLength:
            errors["iban"] = "iban_length"
        except InvalidCountryCode:
            errors["iban"] = "iban_country"
        except SchwiftyException:
            errors["iban"] = "iban_invalid"
    bic = "".join(entered.bic.split()).upper()
    if bic:
        try:
            bic = BIC(bic).compact
        except SchwiftyException:
            errors["bic"] = "bic_invalid"
    if errors:
        return None, errors
    details = BankDetails(
        holder_name=name, holder_type=HolderType(entered.holder_type), iban=iban, bic=bic or None
    )
    return details, {}


def _action(request: Request, lang: str | None) -> str:
    return request.url.path + (f"?lang={lang}" if lang in {x.value for x in Language} else "")


Lang = Annotated[str | None, Query(description="de or en: overrides the reseller's language")]
AcceptLanguage = Annotated[str | None, Header()]


@router.get("/bank-details/{token}", response_class=HTMLResponse)
async def bank_details_form(
    token: str,
    request: Request,
    services: ServicesDep,
    lang: Lang = None,
    accept_language: AcceptLanguage = None,
) -> HTMLResponse:
    """R13: the form behind the link of a bank-details request (or the details on file to
    confirm, R16); a friendly page when the link is unknown (404), used or expired (410), or
    the claim no longer waits for bank details (409)."""
    try:
        invitation = await _open(services, token, lang, accept_language)
    except _Refused as refused:
        return _problem_page(refused, services)
    return _form_page(invitation, services, _action(request, lang))


@router.post("/bank-details/{token}", response_class=HTMLResponse)
async def submit_bank_details(
    token: str,
    request: Request,
    services: ServicesDep,
    holder_name: Annotated[str, Form()] = "",
    holder_type: Annotated[str, Form()] = HolderType.COMPANY.value,
    iban: Annotated[str, Form()] = "",
    bic: Annotated[str, Form()] = "",
    confirm: Annotated[str, Form()] = "",
    lang: Lang = None,
    accept_language: AcceptLanguage = None,
) -> HTMLResponse:
    """R10-R13: check, store encrypted, spend the link, tell the workflow, mail the reseller,
    say what follows. A `standing` field is ignored: a link alone never sets the details of
    later claims."""
    try:
        invitation = await _open(services, token, lang, accept_language)
    except _Refused as refused:
        return _problem_page(refused, services)

    reference = invitation.bank_details_ref
    if confirm and reference is not None:
        details = await run_in_threadpool(services.bank_accounts.reveal, reference)
    else:
        entered = Entered(holder_name, holder_type, iban, bic)
        checked, errors = check(entered)
        if checked is None:
            # A typo is corrected on the page: the link stays valid, the workflow hears nothing.
            return _form_page(
                invitation,
                services,
                _action(request, lang),
                entered=entered,
                errors=errors,
                status_code=422,
            )
        details, reference = checked, None

    # Spend the link before storing anything: of two racing submissions (a double click) only
    # one gets this far, and the other leaves no orphan bank details behind.
    if await run_in_threadpool(services.invitations.use, token) is None:
        return _problem_page(_Refused(Problem.USED, invitation.language), services)
    if reference is None:
        reference = await run_in_threadpool(services.bank_accounts.store, details)
    handle = services.temporal.get_workflow_handle(claim_workflow_id(invitation.claim_id))
    try:
        judgement = await handle.execute_update(
            "submit_bank_details",
            BankDetailsSubmission(
                reference=reference,
                holder_type=details.holder_type,
                holder_name=details.holder_name,
            ),
            result_type=BankDetailsJudgement,
        )
    except (WorkflowUpdateFailedError, RPCError):
        # The validator refused (no bank details requested any more) or the claim has ended.
        return _problem_page(_Refused(Problem.CLOSED, invitation.language), services)
    log.info("bank details for claim %s judged %s", invitation.claim_id, judgement.value)
    masked_iban = mask_iban(details.iban)
    await run_in_threadpool(
        tell_claim_change,
        services,
        invitation.reseller_id,
        claim_id=invitation.claim_id,
        agreement_number=invitation.agreement_number,
        offer_name=invitation.offer_name,
        masked_iban=masked_iban,
    )
    return render(
        "submitted.html",
        200,
        invitation.language,
        invitation=invitation,
        judgement=judgement.value,
        masked_iban=masked_iban,
        support_address=services.settings.support_address,
    )
