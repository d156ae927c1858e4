"""Dependencies of the routes, as `Annotated` aliases: the services, the signed-in user and the
roles (a reseller sees only its own claims; an operator endpoint refuses resellers)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Cookie, Depends, Header, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy import bindparam, select

from api.browser import SESSION_COOKIE as SESSION_COOKIE  # re-exported: tests name it here
from api.errors import ApiError
from api.security import token_digest
from api.services import Services
from cashback.db.tables import ApiToken, Reseller, ResellerStatus, User, UserRole

# Pure dependencies are `async def`: FastAPI runs a plain `def` dependency on the thread pool,
# a hop per dependency per request; these do no I/O, so they run on the event loop. Those
# that read the database (`_signed_in`, `_codec_user`) stay plain functions, on the pool.


async def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(_services)]

_bearer = OAuth2PasswordBearer(tokenUrl="/auth/token", auto_error=False)


@dataclass(frozen=True)
class SignedIn:
    user_id: int
    email: str
    role: UserRole
    reseller_id: str | None
    token_sha256: str = ""  # of the credential this request came with (to sign it out)
    email_confirmed: bool = False
    organisation_status: ResellerStatus | None = None  # R1: resellers' users only


def user_of(services: Services, token: str | None) -> SignedIn:
    """The user a bearer token (or a portal session) stands for; 401 `unauthenticated` when it
    is unknown, signed out or expired."""
    unauthenticated = ApiError(
        401, "unauthenticated", "sign in first: POST /auth/token, then send the bearer token"
    )
    if not token:
        raise unauthenticated
    digest = token_digest(token)
    with services.database.reading() as session:
        # The columns alone, not the User entity: every authenticated request reads this, and
        # building an ORM object (identity map, instance state) costs more than the row.
        found = session.execute(_USER_OF_TOKEN, {"digest": digest}).first()
    if found is None or found.expires_at <= datetime.now(UTC):  # unknown, signed out, expired
        raise unauthenticated
    return SignedIn(
        found.id,
        found.email,
        found.role,
        found.reseller_id,
        digest,
        email_confirmed=found.email_confirmed_at is not None,
        organisation_status=found.status,
    )


# Built once: a statement built per request costs its construction and its cache key.
_USER_OF_TOKEN = (
    select(
        User.id,
        User.email,
        User.role,
        User.reseller_id,
        User.email_confirmed_at,
        ApiToken.expires_at,
        Reseller.status,
    )
    .join(ApiToken, ApiToken.user_id == User.id)
    .outerjoin(Reseller, Reseller.id == User.reseller_id)
    .where(ApiToken.token_sha256 == bindparam("digest"))
)


def _signed_in(services: ServicesDep, bearer: Annotated[str | None, Depends(_bearer)]) -> SignedIn:
    """The user of the bearer token. The session cookie is not read here: it opens the codec
    endpoints only (`CodecSession`, `CodecOperator`), so a page on another site cannot act
    with it."""
    return user_of(services, bearer)


def _codec_user(
    services: ServicesDep,
    bearer: Annotated[str | None, Depends(_bearer)],
    cookie_token: Annotated[
        str | None, Cookie(alias=SESSION_COOKIE, include_in_schema=False)
    ] = None,
) -> SignedIn:
    """The user of the bearer token, or of the session cookie (which the Temporal Web UI sends
    to the codec endpoint when "include cross-origin credentials" is on; `BrowserGuard` has
    refused it already when it came from another site)."""
    try:
        return user_of(services, bearer or cookie_token)
    except ApiError as refused:
        # Whoever reads the refusal (the CLI's user) must learn where to sign in.
        page = _sign_in_page(services)
        refused.detail = f"sign in at {page} (or send an operator's bearer token)"
        raise


def _sign_in_page(services: Services) -> str:
    return services.settings.public_base_url.rstrip("/") + "/codec/sign-in"


CurrentUser = Annotated[SignedIn, Depends(_signed_in)]


async def _approved_reseller(user: CurrentUser) -> SignedIn:
    return approved_reseller(user)


def approved_reseller(user: CurrentUser) -> SignedIn:
    """R1: a user of an organisation the program approved, whose address is confirmed."""
    if user.role is not UserRole.RESELLER or user.reseller_id is None:
        raise ApiError(403, "forbidden", "this endpoint is for resellers")
    if not user.email_confirmed:
        raise ApiError(
            403,
            "address_unconfirmed",
            "R1: confirm your e-mail address first with the link we sent you; a new link: "
            "POST /auth/confirmation",
        )
    if user.organisation_status is ResellerStatus.PENDING:
        raise ApiError(
            403,
            "organisation_pending",
            "R1: the program is checking your organisation's registration (legal name, VAT id "
            "or partner id); you can claim once it is approved, and we will tell you by e-mail",
        )
    if user.organisation_status is not ResellerStatus.APPROVED:
        raise ApiError(
            403,
            "organisation_refused",
            "R1: the program did not approve your organisation's registration; see the e-mail "
            "we sent, or ask our support",
        )
    return user


async def _operator_user(user: CurrentUser) -> SignedIn:
    return _operator(user)


def _operator(user: SignedIn) -> SignedIn:
    if user.role is not UserRole.OPERATOR:
        raise ApiError(403, "forbidden", "this endpoint is for the program's operators")
    return user


ResellerUser = Annotated[SignedIn, Depends(_approved_reseller)]
OperatorUser = Annotated[SignedIn, Depends(_operator_user)]


async def _codec_operator_user(user: Annotated[SignedIn, Depends(_codec_user)]) -> SignedIn:
    return _operator(user)


CodecSession = Annotated[SignedIn, Depends(_codec_user)]
CodecOperator = Annotated[SignedIn, Depends(_codec_operator_user)]


@dataclass(frozen=True)
class SignInNeeded:
    """The Temporal Web UI's browser, not signed in as an operator: what to tell it."""

    message: str


def _codec_reader(
    services: ServicesDep,
    bearer: Annotated[str | None, Depends(_bearer)],
    cookie_token: Annotated[
        str | None, Cookie(alias=SESSION_COOKIE, include_in_schema=False)
    ] = None,
    origin: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> SignedIn | SignInNeeded:
    """The operator who may read decoded payloads; or, for a request from one of the Temporal
    Web UI's origins without an operator's session, where to sign in. The UI shows a refusal
    only as "Codec Server could not connect", so it is told in an answer it displays. Other
    clients (the CLI) get the 401 or 403 with the same words."""
    try:
        return _operator(_codec_user(services, bearer, cookie_token))
    except ApiError as refused:
        if refused.status_code not in (401, 403) or origin is None:
            raise
        if origin not in services.settings.codec_cors_origins:
            raise
        page = _sign_in_page(services)
        if refused.status_code == 401:  # no session sent: none, expired, or no credentials
            return SignInNeeded(
                f"Sign in at {page} to read this claim's data (with “Include cross-origin "
                "credentials” on in the Web UI's Codec Server settings)"
            )
        return SignInNeeded(
            f"Only the program's operators read claim data: sign in as an operator at {page}"
        )


CodecReader = Annotated[SignedIn | SignInNeeded, Depends(_codec_reader)]


def links(**targets: tuple[str, str, dict[str, str]]) -> dict[str, Any]:
    """OpenAPI links of a response: name -> (method, path, {parameter: runtime expression}), e.g.
    `links(GetClaim=("get", "/claims/{claim_id}", {"claim_id": "$response.body#/claim_id"}))`.
    Clients (and stateful testers such as schemathesis) follow them from one answer to the
    operation it names."""
    return {
        "links": {
            name: {
                "operationRef": "#/paths/"
                + path.replace("~", "~0").replace("/", "~1")
                + "/"
                + method,
                "parameters": parameters,
            }
            for name, (method, path, parameters) in targets.items()
        }
    }
