"""What every page of the reseller portal shares: the session, CSRF protection, the language,
the security headers and rendering.

- The session is an API token (`issue_token`, 8 hours, stored hashed) in the HttpOnly cookie
  `portal_session` on the portal's path, SameSite=Lax, Secure unless the program runs on plain
  http (development); signing out deletes the token.
- CSRF: a random seed in the HttpOnly cookie `portal_csrf`; every form carries
  HMAC-SHA256(seed, session token), so the token is tied to the session (it changes when one
  signs in or out) and a page on another site can neither read nor compute it. Every POST
  checks it, and a POST a browser sends from another site (`Sec-Fetch-Site`, else `Origin`) is
  refused before that (403), the sign-in form included (login CSRF).
- The Content-Security-Policy allows scripts, styles and images from the program's own origin
  only: no inline script, no inline style, nothing from a CDN.
- The language (D6): `?lang=` (remembered in a cookie), else the organisation's, else the
  browser's.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PrefixLoader, StrictUndefined
from sqlalchemy import select

from api.browser import origin_of, sent_by_this_site
from api.deps import ServicesDep, SignedIn, approved_reseller, user_of
from api.errors import ApiError
from api.limits import BodyCap
from api.services import Services
from cashback.db.tables import Reseller
from cashback.domain.reseller import Language
from cashback.mail.render import format_date, format_moment, format_money

PORTAL = "/portal"
TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "portal"
STATIC = TEMPLATES / "static"
PAGES = TEMPLATES.parent / "pages"

SESSION_COOKIE = "portal_session"
CSRF_COOKIE = "portal_csrf"
LANGUAGE_COOKIE = "portal_lang"
SESSION_SECONDS = 8 * 3600  # the API token's lifetime (api.accounts.TOKEN_LIFETIME)

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}


def _environment() -> Environment:
    env = Environment(
        # The secure bank-details page's words (its IBAN and BIC messages) as "pages/...".
        loader=ChoiceLoader(
            [FileSystemLoader(TEMPLATES), PrefixLoader({"pages": FileSystemLoader(PAGES)})]
        ),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        money=lambda amount, language: format_money(amount, Language(language)),
        moment=lambda moment, language: format_moment(moment, Language(language)),
        day=lambda day, language: format_date(day, Language(language)),
    )
    return env


_PAGES = _environment()


class PortalProblem(Exception):
    """A page the portal answers instead of the one asked for: `problem` names its words
    (templates/portal/*/_words.html, PROBLEMS)."""

    def __init__(self, status_code: int, problem: str, visitor: Visitor) -> None:
        super().__init__(problem)
        self.status_code = status_code
        self.problem = problem
        self.visitor = visitor


class SignInFirst(Exception):
    """A page for signed-in resellers, asked for without a session: off to the sign-in form."""

    def __init__(self, visitor: Visitor) -> None:
        super().__init__("sign in first")
        self.visitor = visitor


@dataclass
class Visitor:
    """Who asks for a page, in which language, with which session and CSRF seed."""

    request: Request
    services: Services
    language: Language
    user: SignedIn | None
    session_token: str | None
    csrf_seed: str
    remember_language: bool = False
    cookies: dict[str, str | None] = field(default_factory=dict)  # None: delete

    @property
    def csrf_token(self) -> str:
        """The token every form of this session carries."""
        return csrf_token_of(self.csrf_seed, self.session_token)

    @property
    def reseller_id(self) -> str:
        assert self.user is not None
        assert self.user.reseller_id is not None
        return self.user.reseller_id

    def start_session(self, token: str) -> None:
        """Signed in: the session cookie from now on (the CSRF token changes with it)."""
        self.session_token = token
        self.cookies[SESSION_COOKIE] = token

    def end_session(self) -> None:
        self.session_token = None
        self.user = None
        self.cookies[SESSION_COOKIE] = None

    def render(self, template: str, status_code: int = 200, **context: Any) -> Response:
        """A page of templates/portal in the visitor's language, with the security headers."""
        html = _PAGES.get_template(template).render(
            language=self.language.value,
            signed_in=self.user,
            csrf_token=self.csrf_token,
            path=self.request.url.path,
            portal=PORTAL,
            support_address=self.services.settings.support_address,
            **context,
        )
        return self._finish(HTMLResponse(html, status_code=status_code))

    def redirect(self, path: str) -> Response:
        """303 See Other to a page of the portal (after a form: the browser GETs it)."""
        return self._finish(RedirectResponse(path, status_code=303))

    def _finish(self, response: Response) -> Response:
        response.headers.update(SECURITY_HEADERS)
        secure = self.services.settings.public_base_url.startswith("https://")
        path = cookie_path(self.services.settings.public_base_url)
        cookies = dict(self.cookies)
        if self.request.cookies.get(CSRF_COOKIE) != self.csrf_seed:
            cookies[CSRF_COOKIE] = self.csrf_seed
        if self.remember_language:
            cookies[LANGUAGE_COOKIE] = self.language.value
        for name, value in cookies.items():
            if value is None:
                response.delete_cookie(name, path=path, secure=secure, httponly=True)
            else:
                response.set_cookie(
                    name,
                    value,
                    max_age=SESSION_SECONDS if name == SESSION_COOKIE else None,
                    path=path,
                    secure=secure,
                    httponly=True,
                    samesite="lax",
                )
        return response


def cookie_path(public_base_url: str) -> str:
    """The portal's cookies go to the portal's pages only, under the program's public path."""
    return urlsplit(public_base_url).path.rstrip("/") + PORTAL


def csrf_token_of(seed: str, session_token: str | None) -> str:
    return hmac.new(seed.encode(), (session_token or "").encode(), hashlib.sha256).hexdigest()


def page_language(
    lang: str | None, remembered: str | None, organisation: Language | None, accept: str
) -> tuple[Language, bool]:
    """D6: `?lang=` (then remembered), the remembered choice, the organisation's language, or
    the browser's first preference."""
    known = {language.value for language in Language}
    if lang in known:
        return Language(lang), True
    if remembered in known:
        return Language(remembered), False
    if organisation is not None:
        return organisation, False
    first = accept.split(",")[0].strip().lower()
    return (Language.GERMAN if first.startswith("de") else Language.ENGLISH), False


def _organisation_language(services: Services, user: SignedIn | None) -> Language | None:
    if user is None or user.reseller_id is None:
        return None
    with services.database.reading() as session:
        language: Language | None = session.scalar(
            select(Reseller.language).where(Reseller.id == user.reseller_id)
        )
    return language


def visitor(
    request: Request,
    services: ServicesDep,
    lang: Annotated[str | None, Query(max_length=8, description="de or en")] = None,
) -> Visitor:
    """The visitor of a portal page: its session (if any is valid), language and CSRF seed."""
    token = request.cookies.get(SESSION_COOKIE) or None
    user: SignedIn | None = None
    if token is not None:
        try:
            user = user_of(services, token)
        except ApiError:
            token = None  # expired or signed out: the page is shown signed out
    seed = request.cookies.get(CSRF_COOKIE) or ""
    if len(seed) < 32:
        seed = secrets.token_urlsafe(32)
    language, remember = page_language(
        lang,
        request.cookies.get(LANGUAGE_COOKIE),
        _organisation_language(services, user),
        request.headers.get("accept-language", ""),
    )
    found = Visitor(request, services, language, user, token, seed, remember)
    if request.cookies.get(SESSION_COOKIE) and token is None:
        found.cookies[SESSION_COOKIE] = None
    return found


PortalVisitor = Annotated[Visitor, Depends(visitor)]


async def checked_post(  # async: no I/O, so no hop to the thread pool
    visitor: PortalVisitor, csrf: Annotated[str, Form(max_length=128)] = ""
) -> Visitor:
    """Every POST of the portal: sent from this site (403 `cross_site`) with the session's
    CSRF token (403 `csrf`)."""
    trusted = frozenset({origin_of(visitor.services.settings.public_base_url)})
    if not sent_by_this_site(visitor.request.headers, trusted):
        raise PortalProblem(403, "cross_site", visitor)
    if not hmac.compare_digest(csrf.encode(), visitor.csrf_token.encode()):
        raise PortalProblem(403, "csrf", visitor)
    return visitor


PostingVisitor = Annotated[Visitor, Depends(checked_post)]


def signed_in(visitor: PortalVisitor) -> Visitor:
    """Any signed-in user (an organisation still pending included); else the sign-in form."""
    if visitor.user is None:
        raise SignInFirst(visitor)
    return visitor


def posting_signed_in(visitor: PostingVisitor) -> Visitor:
    return signed_in(visitor)


SignedInVisitor = Annotated[Visitor, Depends(signed_in)]
PostingSignedIn = Annotated[Visitor, Depends(posting_signed_in)]


def may_claim(visitor: Visitor) -> str | None:
    """None when the visitor's organisation may claim (R1); else why not (a problem's name)."""
    assert visitor.user is not None
    try:
        approved_reseller(visitor.user)
    except ApiError as refused:
        return refused.error
    return None


def signed_in_reseller(visitor: PortalVisitor) -> Visitor:
    """R1: a signed-in user of an approved organisation whose address is confirmed; else the
    sign-in form, or a page saying what is missing (403)."""
    signed_in(visitor)
    refused = may_claim(visitor)
    if refused is not None:
        raise PortalProblem(403, refused, visitor)
    return visitor


async def posting_reseller(visitor: PostingVisitor) -> Visitor:
    return signed_in_reseller(visitor)


async def _signed_in_reseller(visitor: PortalVisitor) -> Visitor:
    return signed_in_reseller(visitor)


ResellerVisitor = Annotated[Visitor, Depends(_signed_in_reseller)]
PostingReseller = Annotated[Visitor, Depends(posting_reseller)]


def render_problem(problem: PortalProblem) -> Response:
    return problem.visitor.render("problem.html", problem.status_code, problem=problem.problem)


def to_sign_in(signal: SignInFirst) -> Response:
    request = signal.visitor.request
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return signal.visitor.redirect(f"{PORTAL}/sign-in?next={quote(target, safe='')}")


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a page of the portal only (no open redirect)."""
    if target and target.startswith(PORTAL + "/") and "//" not in target and "\\" not in target:
        return target
    return f"{PORTAL}/claims"


@dataclass(frozen=True)
class PortalUploadCap(BodyCap):
    """The claim form's cap (R5: an invoice of at most 10 MB, plus the form): a larger body is
    refused unread (`api.limits.BodyLimit`) with a page in both languages, not with JSON. The
    page's script checks the size before sending; this is the answer without it."""

    support: str = ""  # R17: the support address the page names

    def refusal(self) -> Response:
        html = _PAGES.get_template("too_large.html").render(
            portal=PORTAL, support_address=self.support
        )
        headers = {**SECURITY_HEADERS, "Connection": "close"}
        return HTMLResponse(html, status_code=413, headers=headers)
