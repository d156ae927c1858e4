"""R1: resellers register and sign in; operators are created from the command line."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

import holidays
from fastapi import APIRouter, Depends, Form, Response
from pydantic import BaseModel, EmailStr, Field, field_validator
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from api.browser import SESSION_COOKIE, cookie_path
from api.deps import CurrentUser, ServicesDep
from api.errors import ApiError, error_responses
from api.security import hash_password, is_free_mail, new_token, token_digest, verify_password
from api.services import Services
from cashback.db import Database
from cashback.db.tables import ApiToken, Reseller, User, UserRole
from cashback.domain.reseller import Language

router = APIRouter(tags=["accounts"])
TOKEN_LIFETIME = timedelta(hours=8)


# R9: the countries with a business-day calendar (upper or lower case in the request).
COUNTRIES = sorted(code for code in holidays.list_supported_countries() if len(code) == 2)


class ResellerRegistration(BaseModel):
    company_name: str = Field(min_length=2, max_length=200)
    country: str = Field(
        pattern=r"^[A-Za-z]{2}$",
        description="ISO 3166 alpha-2, of a country with a business-day calendar (R9)",
        json_schema_extra={"enum": [*COUNTRIES, *(code.lower() for code in COUNTRIES)]},
    )
    language: Language = Language.ENGLISH
    email: EmailStr = Field(description="a company address; free-mail providers are refused")
    password: str = Field(min_length=12, max_length=256)

    @field_validator("country")
    @classmethod
    def _known_country(cls, country: str) -> str:
        if country not in (country.upper(), country.lower()):
            raise ValueError("write the country code in upper (or lower) case, e.g. DE")
        country = country.upper()
        if country not in holidays.list_supported_countries():
            raise ValueError(f"no business-day calendar for country {country}")
        return country


class ResellerRead(BaseModel):
    reseller_id: str
    company_name: str
    country: str
    language: Language
    email: str


class TokenRead(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_at: datetime


class MeRead(BaseModel):
    email: str
    role: UserRole
    reseller_id: str | None


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
    ) -> None:
        self.username = username
        self.password = password


@router.post(
    "/auth/register",
    status_code=201,
    response_model=ResellerRead,
    responses=error_responses(400, 409, 422),
)
def register(registration: ResellerRegistration, services: ServicesDep) -> ResellerRead:
    """R1: register a reseller company and its first user."""
    if is_free_mail(registration.email):
        raise ApiError(
            422, "company_email_required", "register with your company's e-mail address (R1)"
        )
    now = datetime.now(UTC)
    reseller = Reseller(
        id=f"r_{secrets.token_hex(8)}",
        company_name=registration.company_name.strip(),
        country=registration.country,
        language=registration.language,
        email=registration.email.lower(),
        created_at=now,
    )
    try:
        with services.database.transaction() as session:
            session.add(reseller)
            session.flush()
            session.add(
                User(
                    reseller_id=reseller.id,
                    email=registration.email.lower(),
                    password_hash=hash_password(registration.password),
                    role=UserRole.RESELLER,
                    created_at=now,
                )
            )
    except IntegrityError as error:
        raise ApiError(
            409, "email_taken", "this e-mail address is already registered: sign in instead"
        ) from error
    return ResellerRead(
        reseller_id=reseller.id,
        company_name=reseller.company_name,
        country=reseller.country,
        language=reseller.language,
        email=reseller.email,
    )


@router.post("/auth/token", response_model=TokenRead, responses=error_responses(400, 401, 422, 429))
def sign_in(
    form: Annotated[SignInForm, Depends()],
    services: ServicesDep,
) -> TokenRead:
    """Sign in with e-mail (`username`) and password; answers a bearer token."""
    return _authenticate(services, form.username, form.password)


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
    token = _authenticate(services, form.username, form.password)
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


def _authenticate(services: Services, username: str, password: str) -> TokenRead:
    account = username.strip().lower()
    wait = services.throttle.retry_after(account)
    if wait:
        raise ApiError(
            429,
            "too_many_attempts",
            f"too many failed sign-ins: retry in {wait} s",
            headers={"Retry-After": str(wait)},
        )
    with services.database.reading() as session:
        user = session.scalar(select(User).where(User.email == account))
    if user is None or not verify_password(user.password_hash, password):
        services.throttle.failed(account)
        raise ApiError(401, "unauthenticated", "wrong e-mail address or password")
    services.throttle.succeeded(account)
    return issue_token(services.database, user.id)


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
    response.delete_cookie(
        SESSION_COOKIE,
        path=cookie_path(services.settings.public_base_url),
        httponly=True,
        samesite="strict",
        secure=services.settings.public_base_url.startswith("https://"),
    )
    return response


@router.get("/me", response_model=MeRead, responses=error_responses(401))
def me(user: CurrentUser) -> MeRead:
    """Who is signed in."""
    return MeRead(email=user.email, role=user.role, reseller_id=user.reseller_id)


def create_operator(database: Database, email: str, password: str) -> int:
    """An operator account (used by `python -m api.cli create-operator`)."""
    with database.transaction() as session:
        user = User(
            reseller_id=None,
            email=email.lower(),
            password_hash=hash_password(password),
            role=UserRole.OPERATOR,
            created_at=datetime.now(UTC),
        )
        session.add(user)
        session.flush()
        return user.id
