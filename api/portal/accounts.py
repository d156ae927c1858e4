"""The portal's account pages (R1): register, sign in, sign out. They call the API's services
(`register_reseller`, `authenticate`: the same checks, the same throttle) and render."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy import delete

from api.accounts import (
    COUNTRIES,
    ResellerRegistration,
    authenticate,
    register_reseller,
    request_source,
)
from api.errors import ApiError
from api.portal.web import PORTAL, PortalVisitor, PostingSignedIn, PostingVisitor, safe_next
from api.security import password_problem, token_digest
from cashback.db.tables import ApiToken
from cashback.mail.errors import MailServerUnavailable

router = APIRouter(prefix=PORTAL, include_in_schema=False)

REGISTRATION_FIELDS = (
    "company_name",
    "country",
    "language",
    "email",
    "password",
    "vat_id",
    "partner_id",
)
Text = Annotated[str, Form(max_length=1024)]


@router.get("")
@router.get("/")
def home(visitor: PortalVisitor) -> Response:
    """The portal's front door: my claims when signed in, else the sign-in form."""
    return visitor.redirect(f"{PORTAL}/claims" if visitor.user else f"{PORTAL}/sign-in")


@router.get("/sign-in")
def sign_in_form(
    visitor: PortalVisitor, next: Annotated[str | None, Query(max_length=512)] = None
) -> Response:
    return visitor.render("sign_in.html", next=safe_next(next), email="", error=None)


@router.post("/sign-in")
def sign_in(
    visitor: PostingVisitor, email: Text = "", password: Text = "", next: Text = ""
) -> Response:
    """R1: sign in with the API's check and throttle (429 after repeated failures)."""
    try:
        token = authenticate(
            visitor.services, email, password, request_source(visitor.request)
        ).access_token
    except ApiError as refused:
        status = refused.status_code
        wait = (refused.headers or {}).get("Retry-After", "")
        return visitor.render(
            "sign_in.html",
            status,
            next=safe_next(next),
            email=email,
            error=refused.error,
            wait=wait,
        )
    visitor.start_session(token)
    return visitor.redirect(safe_next(next))


@router.post("/sign-out")
def sign_out(visitor: PostingVisitor) -> Response:
    """The session's token stops working at once, and its cookie is deleted."""
    if visitor.session_token is not None:
        digest = token_digest(visitor.session_token)
        with visitor.services.database.transaction() as session:
            session.execute(delete(ApiToken).where(ApiToken.token_sha256 == digest))
    visitor.end_session()
    return visitor.redirect(f"{PORTAL}/sign-in")


@router.get("/register")
def registration_form(visitor: PortalVisitor) -> Response:
    entered = dict.fromkeys(REGISTRATION_FIELDS, "")
    entered["language"] = visitor.language.value
    return visitor.render("register.html", entered=entered, errors={}, countries=COUNTRIES)


@router.post("/register")
def register(
    visitor: PostingVisitor,
    company_name: Text = "",
    country: Text = "",
    language: Text = "",
    email: Text = "",
    password: Text = "",
    vat_id: Text = "",
    partner_id: Text = "",
) -> Response:
    """R1: the API's registration, its errors next to their fields; then "check your inbox"
    (the same page whether or not the address had an account)."""
    entered = {
        "company_name": company_name,
        "country": country,
        "language": language,
        "email": email.strip(),
        "password": password,
        "vat_id": vat_id,
        "partner_id": partner_id,
    }
    errors: dict[str, tuple[str, str]] = {}  # field -> (code, the API's sentence)
    try:
        registration = ResellerRegistration.model_validate(
            {name: value for name, value in entered.items() if value.strip()}
        )
        register_reseller(visitor.services, registration)
        visitor.language = registration.language  # D6: from now on, the chosen one
    except ValidationError as invalid:
        for item in invalid.errors():
            where = str(item["loc"][0]) if item["loc"] else "vat_id"  # R1: the identifiers
            message = str(item["msg"]).removeprefix("Value error, ")
            errors.setdefault(where, (f"{where}_invalid", message))
    except ApiError as refused:
        where = {"company_email_required": "email", "organisation_registered": "vat_id"}.get(
            refused.error, ""
        )
        errors[where] = (refused.error, refused.detail)
    if errors:
        entered["password"] = ""  # never sent back
        return visitor.render(
            "register.html", 422, entered=entered, errors=errors, countries=COUNTRIES
        )
    return visitor.render("registered.html", email=entered["email"])


Token = Annotated[str, Query(max_length=128)]


@router.get("/password-reset")
def password_reset(visitor: PortalVisitor, token: Token = "") -> Response:
    """Without a token: the form that asks for a link. With one: the new-password form, or a
    page saying the link is unknown, used or expired (410)."""
    if not token:
        return visitor.render("forgot_password.html", sent=False, email="", error=None)
    link = visitor.services.password_resets.open(token)
    if link is None:
        return visitor.render("problem.html", 410, problem="reset_link_invalid")
    visitor.language = (
        link.language if visitor.request.query_params.get("lang") is None else visitor.language
    )
    return visitor.render("new_password.html", token=token, error=None)


@router.post("/password-reset")
def request_password_reset(
    visitor: PostingVisitor, email: Text = "", token: Token = "", password: Text = ""
) -> Response:
    """Ask for a link (the same answer for every address), or, with the link's token, set
    the new password (the API's password rules), signing out every session."""
    resets = visitor.services.password_resets
    if not token:
        try:
            resets.request(email)
        except MailServerUnavailable:
            return visitor.render(
                "forgot_password.html", 503, sent=False, email=email, error="mail_unavailable"
            )
        return visitor.render("forgot_password.html", sent=True, email=email, error=None)
    link = resets.open(token)
    if link is None:
        return visitor.render("problem.html", 410, problem="reset_link_invalid")
    problem = password_problem(password, link.email)
    if problem:
        return visitor.render("new_password.html", 422, token=token, error=problem)
    if not resets.reset(token, visitor.services.passwords.hash(password)):
        return visitor.render("problem.html", 410, problem="reset_link_invalid")
    visitor.end_session()
    return visitor.render("new_password.html", token="", error=None)


@router.post("/confirmation")
def send_new_confirmation_link(visitor: PostingSignedIn) -> Response:
    """R1: a new link to confirm the signed-in user's address (nothing for one confirmed)."""
    assert visitor.user is not None
    try:
        visitor.services.organisations.send_new_link(visitor.user.email)
    except MailServerUnavailable:
        return visitor.render("problem.html", 503, problem="mail_unavailable")
    return visitor.render("problem.html", 200, problem="confirmation_sent")
