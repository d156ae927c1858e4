"""R1: resellers register and sign in; operators are created from the command line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

import holidays
from fastapi import APIRouter, Depends, Form, Query, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    JsonValue,
    ValidationInfo,
    field_validator,
    model_validator,
)
from sqlalchemy import delete, select, update

from api.bank_details import render
from api.browser import SESSION_COOKIE, clear_session_cookie, cookie_path
from api.deps import CurrentUser, ServicesDep, SignedIn
from api.errors import ApiError, error_responses
from api.security import (
    hash_password,
    is_free_mail,
    new_token,
    password_problem,
    source_address,
    token_digest,
)
from api.services import Services
from cashback.db import Database
from cashback.db.tables import ApiToken, ResellerStatus, User, UserRole
from cashback.domain.identity import InvalidIdentifier, partner_id, vat_id
from cashback.domain.names import PlainText
from cashback.domain.reseller import Language
from cashback.mail.errors import MailServerUnavailable
from cashback.organisations import OrganisationAlreadyRegistered, Registration

router = APIRouter(tags=["accounts"])
TOKEN_LIFETIME = timedelta(hours=8)


# R9: the countries with a business-day calendar (upper or lower case in the request).
COUNTRIES = sorted(code for code in holidays.list_supported_countries() if len(code) == 2)


class ResellerRegistration(BaseModel):
    """R1: an organisation and its first user. The legal name is the name bank details must
    carry (R11); the VAT id and/or partner id identify the organisation and must be unique in
    the program."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "company_name": "Northwind Traders GmbH",
                    "country": "DE",
                    "language": "en",
                    "email": "claims@northwind.example",
                    "password": "orchard-lantern-quarry-42",
                    "vat_id": "DE812345673",
                }
            ]
        }
    )

    company_name: PlainText = Field(
        min_length=2,
        max_length=200,
        description="the organisation's legal name, as on its VAT registration (R1, R11)",
    )
    country: str = Field(
        pattern=r"^[A-Za-z]{2}$",
        description="ISO 3166 alpha-2, of a country with a business-day calendar (R9)",
        # Declared once, in canonical (upper) case; lower case is accepted and upper-cased.
        json_schema_extra={"enum": list[JsonValue](COUNTRIES)},
    )
    language: Language = Language.ENGLISH
    email: EmailStr = Field(description="a company address; free-mail providers are refused")
    password: str = Field(min_length=12, max_length=256)
    vat_id: str | None = Field(
        default=None,
        max_length=32,
        description="the VAT identification number, checked for format and check digits "
        "(R1); give it, the partner id, or both",
    )
    partner_id: str | None = Field(
        default=None, max_length=32, description="the program's partner id, 5 to 10 digits (R1)"
    )

    @field_validator("password")
    @classmethod
    def _strong_password(cls, password: str, info: ValidationInfo) -> str:
        problem = password_problem(password, str(info.data.get("email", "")))
        if problem:
            raise ValueError(problem)
        return password

    @field_validator("country")
    @classmethod
    def _known_country(cls, country: str) -> str:
        if country not in (country.upper(), country.lower()):
            raise ValueError("write the country code in upper (or lower) case, e.g. DE")
        country = country.upper()
        if country not in holidays.list_supported_countries():
            raise ValueError(f"no business-day calendar for country {country}")
        return country

    @model_validator(mode="after")
    def _identified(self) -> ResellerRegistration:
        """R1: at least one identifier, each valid, in its canonical form."""
        if not (self.vat_id or "").strip() and not (self.partner_id or "").strip():
            raise ValueError(
                "R1: give your organisation's VAT id (vat_id) or its partner id (partner_id)"
            )
        try:
            if (self.vat_id or "").strip():
                self.vat_id = vat_id(self.vat_id or "", self.country)
            else:
                self.vat_id = None
            if (self.partner_id or "").strip():
                self.partner_id = partner_id(self.partner_id or "")
            else:
                self.partner_id = None
        except InvalidIdentifier as error:
            raise ValueError(f"R1: {error}") from None
        self.company_name = " ".join(self.company_name.split())
        return self


class RegistrationReceived(BaseModel):
    message: str


class AddressConfirmed(BaseModel):
    organisation: str
    status: ResellerStatus
    message: str


class ConfirmationRequest(BaseModel):
    token: str = Field(min_length=1, max_length=128)


class NewLinkRequest(BaseModel):
    email: EmailStr


class TokenRead(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "access_token": "k3Jb9Xo2mQ",
                    "token_type": "bearer",
                    "expires_at": "2026-12-07T16:00:00Z",
                }
            ]
        }
    )

    access_token: str
    token_type: str = "bearer"
    expires_at: datetime


class MeRead(BaseModel):
    email: str
    role: UserRole
    reseller_id: str | None
    email_confirmed: bool
    organisation_status: ResellerStatus | None = Field(
        description="R1: pending until an operator approves the organisation (resellers only)"
    )


class PasswordChange(BaseModel):
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(
        min_length=1,
        max_length=1024,
        description="at least 12 characters; common, repetitive and sequence passwords and "
        "ones containing the e-mail address are refused",
    )


class SignInForm:
    """The OAuth 2.0 password grant's form (RFC 6749, 4.3.2): the e-mail address as `username`
    and the password; `grant_type`, when sent, is `password`. Other fields are ignored."""

    def __init__(
        self,
        username: Annotated[
            str, Form(min_length=1, max_length=320, description="the e-mail address")
        ],
        password: Annotated[str, Form(min_length=1, max_length=1024)],
        grant_type: Annotated[Literal["password"], Form()] = "password",
        *,
        request: Request,
    ) -> None:
        self.username = username
        self.password = password
        self.source = request_source(request)


def request_source(request: Request) -> str:
    """The address the request came from (the throttle's source), as the settings say to read
    it (CASHBACK_TRUSTED_PROXIES)."""
    services: Services = request.app.state.services
    return source_address(
        request.client.host if request.client else None,
        request.headers.get("x-forwarded-for"),
        services.settings.trusted_proxies,
    )


def register_reseller(services: Services, registration: ResellerRegistration) -> None:
    """R1: register the organisation and its first user, or mail a known address that it has
    an account. Raises `ApiError`: 422 `company_email_required` (a free-mail address), 409
    `organisation_registered` (the VAT id or partner id is taken), 503 `mail_unavailable`."""
    if is_free_mail(registration.email):
        raise ApiError(
            422, "company_email_required", "register with your company's e-mail address (R1)"
        )
    checked = Registration(
        legal_name=registration.company_name,
        country=registration.country,
        language=registration.language,
        email=registration.email.lower(),
        password_hash=hash_password(registration.password),  # also for a known address
        vat_id=registration.vat_id,
        partner_id=registration.partner_id,
    )
    try:
        services.organisations.register(checked)
    except OrganisationAlreadyRegistered as known:
        raise ApiError(
            409,
            "organisation_registered",
            f"R1: an organisation with this {known.identifier} is registered already; ask its "
            "first user to give you access, or our support if you cannot reach them",
        ) from None
    except MailServerUnavailable:
        raise _mail_unavailable() from None


_CHECK_INBOX = (
    "Thank you. We sent an e-mail to this address: follow its link to confirm the address. "
    "The program then checks your organisation's registration; you can claim once it is "
    "approved."
)


@router.post(
    "/auth/register",
    status_code=202,
    response_model=RegistrationReceived,
    responses=error_responses(400, 409, 422, 503),
)
def register(registration: ResellerRegistration, services: ServicesDep) -> RegistrationReceived:
    """R1: register an organisation and its first user. The answer is the same whether or not
    the address has an account (the e-mail then says so); the address is confirmed by the link
    in the e-mail, and an operator approves the organisation before it can claim. A VAT id or
    partner id that is registered already is refused (409): ask your organisation's first user
    to add you."""
    register_reseller(services, registration)
    return RegistrationReceived(message=_CHECK_INBOX)


@router.post(
    "/auth/confirmation",
    status_code=202,
    response_model=RegistrationReceived,
    responses=error_responses(422, 503),
)
def send_new_link(request: NewLinkRequest, services: ServicesDep) -> RegistrationReceived:
    """R1: a new confirmation link for an address that is not confirmed yet (the answer is the
    same for every address)."""
    try:
        services.organisations.send_new_link(request.email)
    except MailServerUnavailable:
        raise _mail_unavailable() from None
    return RegistrationReceived(
        message="If this address has an unconfirmed account, we sent it a new link."
    )


@router.post("/auth/confirm", response_model=AddressConfirmed, responses=error_responses(410, 422))
def confirm_address(request: ConfirmationRequest, services: ServicesDep) -> AddressConfirmed:
    """R1: confirm an address with the token of its link (one-time, 48 hours)."""
    confirmed = services.organisations.confirm(request.token)
    if confirmed is None:
        raise _link_gone()
    return AddressConfirmed(
        organisation=confirmed.legal_name,
        status=confirmed.status,
        message=_confirmed_text(confirmed.status, Language.ENGLISH),
    )


@router.get("/auth/confirm", response_class=HTMLResponse, include_in_schema=False)
def confirm_address_page(
    services: ServicesDep, token: Annotated[str, Query(max_length=128)] = ""
) -> HTMLResponse:
    """The link of the confirmation e-mail, opened in a browser: a page saying what happened."""
    confirmed = services.organisations.confirm(token) if token else None
    if confirmed is None:
        return render(
            "address_confirmed.html",
            410,
            Language.ENGLISH,
            confirmed=False,
            text=_link_gone().detail,
            support_address=services.settings.support_address,
        )
    return render(
        "address_confirmed.html",
        200,
        confirmed.language,
        confirmed=True,
        text=_confirmed_text(confirmed.status, confirmed.language),
        support_address=services.settings.support_address,
    )


def _confirmed_text(status: ResellerStatus, language: Language) -> str:
    if language is Language.GERMAN:
        if status is ResellerStatus.APPROVED:
            return "Ihre E-Mail-Adresse ist bestätigt. Sie können jetzt Anträge stellen."
        return (
            "Ihre E-Mail-Adresse ist bestätigt. Das Programm prüft nun die Registrierung Ihres "
            "Unternehmens; wir schreiben Ihnen, sobald sie freigegeben ist."
        )
    if status is ResellerStatus.APPROVED:
        return "Your e-mail address is confirmed. You can submit claims now."
    return (
        "Your e-mail address is confirmed. The program now checks your organisation's "
        "registration; we will write to you once it is approved."
    )


def _link_gone() -> ApiError:
    return ApiError(
        410,
        "link_invalid",
        "this confirmation link is unknown, used or expired: ask for a new one with "
        "POST /auth/confirmation",
    )


def _mail_unavailable() -> ApiError:
    return ApiError(
        503,
        "mail_unavailable",
        "we could not send the e-mail just now; please try again in a few minutes",
        headers={"Retry-After": "60"},
    )


@router.post("/auth/token", response_model=TokenRead, responses=error_responses(400, 401, 422, 429))
def sign_in(
    form: Annotated[SignInForm, Depends()],
    services: ServicesDep,
) -> TokenRead:
    """Sign in with e-mail (`username`) and password; answers a bearer token."""
    return authenticate(services, form.username, form.password, form.source)


@router.post(
    "/auth/session",
    status_code=204,
    response_class=Response,
    responses=error_responses(400, 401, 403, 422, 429),
)
def open_session(form: Annotated[SignInForm, Depends()], services: ServicesDep) -> Response:
    """Sign in for a browser: the token goes into an HttpOnly, SameSite=Strict cookie for the
    codec endpoints only (`/codec`: operators use it so the Temporal Web UI may call the codec
    with their credentials; no other endpoint accepts it). A browser's request from another
    site is refused (403), so no page can sign a browser in to an account of its choosing."""
    token = authenticate(services, form.username, form.password, form.source)
    response = Response(status_code=204)
    response.set_cookie(
        SESSION_COOKIE,
        token.access_token,
        max_age=int(TOKEN_LIFETIME.total_seconds()),
        path=cookie_path(services.settings.public_base_url),
        httponly=True,
        samesite="strict",
        secure=services.settings.public_base_url.startswith("https://"),
    )
    return response


def authenticate(services: Services, username: str, password: str, source: str) -> TokenRead:
    """R1: the token of the account whose password this is. Throttled per account and source
    address (429 `too_many_attempts`); an unknown address gets the same answer (401
    `unauthenticated`) after the same work as a wrong password."""
    account = username.strip().lower()
    _refuse_if_throttled(services, account, source)
    with services.database.reading() as session:
        user = session.scalar(select(User).where(User.email == account))
    # verified first, so that an unknown address costs the same (against a dummy hash)
    verified = services.passwords.verify(user.password_hash if user else None, password)
    if not verified or user is None:
        services.throttle.failed(account, source)
        raise ApiError(401, "unauthenticated", "wrong e-mail address or password")
    services.throttle.succeeded(account, source)
    return issue_token(services.database, user.id)


def _refuse_if_throttled(services: Services, account: str, source: str) -> None:
    wait = services.throttle.retry_after(account, source)
    if wait:
        raise ApiError(
            429,
            "too_many_attempts",
            f"too many failed sign-ins: retry in {wait} s",
            headers={"Retry-After": str(wait)},
        )


def issue_token(database: Database, user_id: int) -> TokenRead:
    token = new_token()
    now = datetime.now(UTC)
    with database.transaction() as session:
        session.add(
            ApiToken(
                token_sha256=token_digest(token),
                user_id=user_id,
                created_at=now,
                expires_at=now + TOKEN_LIFETIME,
            )
        )
    return TokenRead(access_token=token, expires_at=now + TOKEN_LIFETIME)


@router.delete(
    "/auth/token", status_code=204, response_class=Response, responses=error_responses(401)
)
def sign_out(user: CurrentUser, services: ServicesDep) -> Response:
    """Sign out: the bearer token this request came with stops working at once; a session
    cookie in this browser is cleared (`DELETE /codec/session` ends the cookie's own session).
    Tokens also expire on their own after 8 hours."""
    with services.database.transaction() as session:
        session.execute(delete(ApiToken).where(ApiToken.token_sha256 == user.token_sha256))
    response = Response(status_code=204)
    clear_session_cookie(response, services.settings.public_base_url)
    return response


@router.delete(
    "/auth/tokens", status_code=204, response_class=Response, responses=error_responses(401)
)
def sign_out_everywhere(user: CurrentUser, services: ServicesDep) -> Response:
    """Sign out everywhere: every token and browser session of the signed-in user, this one
    included, stops working at once (e.g. after a device was lost)."""
    with services.database.transaction() as session:
        session.execute(delete(ApiToken).where(ApiToken.user_id == user.user_id))
    response = Response(status_code=204)
    clear_session_cookie(response, services.settings.public_base_url)
    return response


@router.post(
    "/auth/password",
    status_code=204,
    response_class=Response,
    responses=error_responses(401, 403, 422, 429),
)
def change_password(
    change: PasswordChange, user: CurrentUser, services: ServicesDep, request: Request
) -> Response:
    """Change the signed-in user's password, giving the current one again (403 if it is
    wrong; wrong ones are throttled like sign-ins). Every other token and session of the user
    is signed out; the one this request came with keeps working."""
    change_password_of(services, user, change, request_source(request))
    return Response(status_code=204)


def change_password_of(
    services: Services, user: SignedIn, change: PasswordChange, source: str
) -> None:
    """The signed-in user's new password, given the current one. Raises `ApiError`: 403
    `wrong_password` (throttled like sign-ins: 429), 422 `same_password` or `weak_password`.
    Every other token and session of the user is signed out; this one keeps working."""
    _refuse_if_throttled(services, user.email, source)
    with services.database.reading() as session:
        stored = session.scalar(select(User.password_hash).where(User.id == user.user_id))
    if not services.passwords.verify(stored, change.current_password):
        services.throttle.failed(user.email, source)
        raise ApiError(403, "wrong_password", "the current password is not right; nothing changed")
    services.throttle.succeeded(user.email, source)
    if change.new_password == change.current_password:
        raise ApiError(422, "same_password", "choose a new password, not the current one")
    problem = password_problem(change.new_password, user.email)
    if problem:
        raise ApiError(422, "weak_password", problem)
    with services.database.transaction() as session:
        session.execute(
            update(User)
            .where(User.id == user.user_id)
            .values(password_hash=services.passwords.hash(change.new_password))
        )
        session.execute(
            delete(ApiToken).where(
                ApiToken.user_id == user.user_id, ApiToken.token_sha256 != user.token_sha256
            )
        )


@router.get("/me", response_model=MeRead, responses=error_responses(401))
def me(user: CurrentUser) -> MeRead:
    """Who is signed in."""
    return MeRead(
        email=user.email,
        role=user.role,
        reseller_id=user.reseller_id,
        email_confirmed=user.email_confirmed,
        organisation_status=user.organisation_status,
    )


def create_operator(database: Database, email: str, password: str) -> int:
    """An operator account (used by `python -m api.cli create-operator`); a password that
    `password_problem` refuses raises ValueError with its reason."""
    problem = password_problem(password, email)
    if problem:
        raise ValueError(problem)
    with database.transaction() as session:
        user = User(
            reseller_id=None,
            email=email.lower(),
            password_hash=hash_password(password),
            role=UserRole.OPERATOR,
            created_at=datetime.now(UTC),
            email_confirmed_at=datetime.now(UTC),  # whoever runs the program vouches for it
        )
        session.add(user)
        session.flush()
        return user.id
