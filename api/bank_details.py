"""The secure bank-details page (R10-R13), server-rendered in German and English.

Each request notice links to `/bank-details/{token}` (`cashback.wiring.bank_details_link`): a
one-time token that expires with the notice. GET shows the form, or offers to confirm the
details on file; POST checks IBAN and BIC on the spot (a typo costs nothing: the token is not
spent and the workflow hears nothing), then stores the details encrypted, spends the token and
hands the workflow the reference (update `submit_bank_details`), mails the reseller that the
claim's bank details changed (masked), and says what happens next; the application service in
cashback/bank_details_links.py does all of it, this module renders.
The link sets that one claim's details only: details for all later claims (R10's standing
confirmation) need a signed-in user (`PUT /account/bank-details`).

CSRF: the page has no cookies and no session; the unguessable token in the URL is the only
credential, so a forged cross-site POST would need the token it is trying to steal. A hidden
nonce would add nothing (SameSite does not apply: there is no cookie to send).

The IBAN is never logged, and is shown only masked (`DE89 **** ... 3000`), not even refilled
into the form after an error.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from api.deps import ServicesDep
from api.services import Services
from cashback.bank_details_links import (
    HOLDER_NAME_MAX,
    Entered,
    LinkedClaim,
    LinkRefused,
    Problem,
    check,
    give_bank_details,
    open_link,
)
from cashback.db import mask_iban
from cashback.domain.money import Money
from cashback.domain.payout import HolderType
from cashback.domain.program_time import ProgramClock
from cashback.domain.reseller import Language
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
    expires_at: datetime  # as the reseller reads it: on the claim's program clock (a demo's)
    language: Language
    company_name: str
    agreement_number: str
    offer_name: str
    amount: Money | None
    bank_details_ref: str | None  # the details on file (after a payment failure)
    masked_on_file: str | None  # the same, masked
    link: LinkedClaim


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


async def _open(services: Services, token: str, lang: str | None, accept: str | None) -> Invitation:
    """The invitation behind a link that may still take bank details, in the language the page
    speaks; raises `_Refused`."""
    try:
        link = await run_in_threadpool(open_link, services, token)
    except LinkRefused as refused:
        raise _Refused(refused.problem, _language(lang, accept, refused.language)) from None
    return Invitation(
        claim_id=link.claim_id,
        reseller_id=link.reseller_id,
        expires_at=_shown(services, link, link.expires_at),
        language=_language(lang, accept, link.language),
        company_name=link.company_name,
        agreement_number=link.agreement_number,
        offer_name=link.offer_name,
        amount=link.amount,
        bank_details_ref=link.bank_details_ref,
        masked_on_file=link.masked_on_file,
        link=link,
    )


def _shown(services: Services, link: LinkedClaim, instant: datetime) -> datetime:
    """`instant` as the reseller reads it: in a demo (`time_scale` < 1), in program time."""
    time_scale = services.settings.policy.time_scale
    return ProgramClock(origin=link.received_at, time_scale=time_scale).shown(instant)


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

    if confirm and invitation.bank_details_ref is not None:
        details = None  # the details on file, confirmed
    else:
        entered = Entered(holder_name, holder_type, iban, bic)
        details, errors = check(entered)
        if details is None:
            # A typo is corrected on the page: the link stays valid, the workflow hears nothing.
            return _form_page(
                invitation,
                services,
                _action(request, lang),
                entered=entered,
                errors=errors,
                status_code=422,
            )
    try:
        given = await give_bank_details(services, token, invitation.link, details)
    except LinkRefused as refused:
        return _problem_page(_Refused(refused.problem, invitation.language), services)
    judgement, masked_iban = given.judgement, given.masked_iban
    return render(
        "submitted.html",
        200,
        invitation.language,
        invitation=invitation,
        judgement=judgement.value,
        masked_iban=masked_iban,
        support_address=services.settings.support_address,
    )
