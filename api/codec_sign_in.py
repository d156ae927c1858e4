"""The operators' sign-in page for the codec (R13): the Temporal Web UI shows decrypted payloads
only to a browser whose session cookie (path `/codec`) belongs to an operator, so the page lives
under that path, where the cookie reaches it.

GET /codec/sign-in says whether this browser is signed in, as whom and until when, and which
codec settings the Web UI needs; POST /codec/sign-in signs in with the same code as
`POST /auth/session` (Argon2id, the throttle; `BrowserGuard` refuses a sign-in from another
site), POST /codec/sign-out ends the session. German and English, like the bank-details pages.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Cookie, Form, Header, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import delete, select

from api.accounts import TOKEN_LIFETIME, SignInForm, authenticate
from api.bank_details import SECURITY_HEADERS, _language, render
from api.browser import CODEC_PREFIX, SESSION_COOKIE, clear_session_cookie, cookie_path
from api.deps import ServicesDep
from api.errors import ApiError
from api.security import token_digest
from api.services import Services
from cashback.db.tables import ApiToken, User, UserRole
from cashback.domain.reseller import Language

router = APIRouter(prefix=CODEC_PREFIX, tags=["codec"], include_in_schema=False)

SIGN_IN_PAGE = f"{CODEC_PREFIX}/sign-in"

SessionCookie = Annotated[str | None, Cookie(alias=SESSION_COOKIE)]
Lang = Annotated[str | None, Query(max_length=2)]
AcceptLanguage = Annotated[str | None, Header()]


@dataclass(frozen=True)
class Session:
    """Who the browser's session cookie signs in, and until when."""

    email: str
    operator: bool
    expires_at: datetime


def browser_session(services: Services, token: str | None) -> Session | None:
    """The live session of the cookie, or None (no cookie, signed out or expired)."""
    if not token:
        return None
    with services.database.reading() as session:
        found = session.execute(
            select(User.email, User.role, ApiToken.expires_at)
            .join(ApiToken, ApiToken.user_id == User.id)
            .where(ApiToken.token_sha256 == token_digest(token))
        ).first()
    if found is None or found.expires_at <= datetime.now(UTC):
        return None
    return Session(found.email, found.role is UserRole.OPERATOR, found.expires_at)


def set_session_cookie(response: Response, services: Services, token: str, path: str) -> None:
    """The session cookie for the pages under `path` only: HttpOnly, SameSite=Strict, Secure
    behind https."""
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(TOKEN_LIFETIME.total_seconds()),
        path=path,
        httponly=True,
        samesite="strict",
        secure=services.settings.public_base_url.startswith("https://"),
    )


def end_session(services: Services, token: str | None) -> None:
    """Sign the cookie's session out at once (its token is deleted)."""
    if token:
        with services.database.transaction() as session:
            session.execute(delete(ApiToken).where(ApiToken.token_sha256 == token_digest(token)))


def signed_in_page(
    services: Services,
    request: Request,
    username: str,
    password: str,
    *,
    refused: Callable[[int, str], Response],
    then: str,
    path: str,
) -> Response:
    """The sign-in of the operators' pages (as `POST /auth/session`): to `then` with a session
    cookie for `path`, or the page `refused(status, problem)` gives ("missing" 422, "wrong"
    401, "throttled" 429 with its Retry-After)."""
    if not username.strip() or not password:
        return refused(422, "missing")
    form = SignInForm(username, password, request=request)
    try:
        token = authenticate(services, form.username, form.password, form.source)
    except ApiError as refusal:
        page = refused(refusal.status_code, "throttled" if refusal.status_code == 429 else "wrong")
        page.headers.update(refusal.headers or {})
        return page
    back = RedirectResponse(then, status_code=303)
    back.headers.update(SECURITY_HEADERS)
    set_session_cookie(back, services, token.access_token, path)
    return back


def signed_out_page(services: Services, cookie: str | None, *, then: str, path: str) -> Response:
    """The session of this browser's cookie (for `path`) ended at once; back to `then`."""
    end_session(services, cookie)
    back = RedirectResponse(then, status_code=303)
    back.headers.update(SECURITY_HEADERS)
    clear_session_cookie(back, services.settings.public_base_url, path)
    return back


def codec_endpoint(public_base_url: str) -> str:
    """The codec endpoint the Web UI's settings name: the API's public address + `/codec`."""
    return public_base_url.rstrip("/") + CODEC_PREFIX


def sign_in_page_url(public_base_url: str) -> str:
    return public_base_url.rstrip("/") + SIGN_IN_PAGE


def _page(
    services: Services,
    language: Language,
    session: Session | None,
    *,
    status_code: int = 200,
    problem: str | None = None,
    username: str = "",
) -> HTMLResponse:
    settings = services.settings
    return render(
        "codec_sign_in.html",
        status_code,
        language,
        session=session,
        problem=problem,
        username=username,
        endpoint=codec_endpoint(settings.public_base_url),
        origins=settings.codec_cors_origins,
        support_address=settings.support_address,
    )


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_page(
    services: ServicesDep,
    cookie: SessionCookie = None,
    lang: Lang = None,
    accept_language: AcceptLanguage = None,
) -> HTMLResponse:
    """Whether this browser is signed in for the codec, and the Web UI's codec settings."""
    language = _language(lang, accept_language, None)
    return _page(services, language, browser_session(services, cookie))


@router.post("/sign-in", response_class=HTMLResponse)
def sign_in(
    request: Request,
    services: ServicesDep,
    username: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    lang: Lang = None,
    accept_language: AcceptLanguage = None,
) -> Response:
    """Sign in (as `POST /auth/session` does) and come back to the page; a refusal is shown on
    the page with the status the API would answer (401, 429)."""
    language = _language(lang, accept_language, None)
    return signed_in_page(
        services,
        request,
        username,
        password,
        refused=lambda status, problem: _page(
            services, language, None, status_code=status, problem=problem, username=username
        ),
        then=f"sign-in?lang={language.value}",
        path=cookie_path(services.settings.public_base_url),
    )


@router.post("/sign-out", response_class=HTMLResponse)
def sign_out(
    services: ServicesDep,
    cookie: SessionCookie = None,
    lang: Lang = None,
    accept_language: AcceptLanguage = None,
) -> Response:
    """End this browser's session at once (as `DELETE /codec/session`) and come back."""
    language = _language(lang, accept_language, None)
    return signed_out_page(
        services,
        cookie,
        then=f"sign-in?lang={language.value}",
        path=cookie_path(services.settings.public_base_url),
    )
