"""R1: operators review the organisations that registered: list them, approve or refuse."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import AwareDatetime, BaseModel, Field

from api.deps import OperatorUser, ServicesDep
from api.errors import ApiError, error_responses
from cashback.db.tables import ResellerStatus
from cashback.mail.errors import MailServerUnavailable
from cashback.organisations import Organisation, OrganisationNotFound

router = APIRouter(tags=["operators"])


class OrganisationRead(BaseModel):
    reseller_id: str
    legal_name: str
    country: str
    vat_id: str | None
    partner_id: str | None
    email_domains: list[str] = Field(description="the domains of its users' addresses")
    addresses_confirmed: bool
    status: ResellerStatus
    registered_at: AwareDatetime
    reviewed_by: str | None
    review_note: str


class OrganisationList(BaseModel):
    organisations: list[OrganisationRead]


class Refusal(BaseModel):
    note: str = Field(min_length=1, max_length=1000, description="why, for the organisation")


def _read(organisation: Organisation) -> OrganisationRead:
    return OrganisationRead(
        reseller_id=organisation.reseller_id,
        legal_name=organisation.legal_name,
        country=organisation.country,
        vat_id=organisation.vat_id,
        partner_id=organisation.partner_id,
        email_domains=list(organisation.email_domains),
        addresses_confirmed=organisation.addresses_confirmed,
        status=organisation.status,
        registered_at=organisation.registered_at,
        reviewed_by=organisation.reviewed_by,
        review_note=organisation.review_note,
    )


@router.get(
    "/operator/resellers",
    response_model=OrganisationList,
    responses=error_responses(401, 403, 422),
)
async def list_organisations(
    user: OperatorUser,
    services: ServicesDep,
    status: Annotated[ResellerStatus | None, Query(description="e.g. pending")] = None,
) -> OrganisationList:
    """R1: the registered organisations (of a status), oldest first, with what an operator
    checks: legal name, country, VAT id, partner id and the domains of their addresses."""
    listed = await run_in_threadpool(services.organisations.listed, status)
    return OrganisationList(organisations=[_read(organisation) for organisation in listed])


@router.post(
    "/operator/resellers/{reseller_id}/approve",
    status_code=204,
    response_class=Response,
    responses=error_responses(401, 403, 404, 409, 422, 503),
)
async def approve_organisation(
    reseller_id: str, user: OperatorUser, services: ServicesDep
) -> Response:
    """R1: the organisation may claim from now on; it gets an e-mail."""
    try:
        await run_in_threadpool(services.organisations.approve, reseller_id, user.email)
    except OrganisationNotFound:
        raise _not_found(reseller_id) from None
    except ValueError as error:
        raise ApiError(409, "identifier_missing", f"R1: {error}") from None
    except MailServerUnavailable:
        pass  # approved; the mail is a courtesy, the reseller sees the status on GET /me
    return Response(status_code=204)


@router.post(
    "/operator/resellers/{reseller_id}/refuse",
    status_code=204,
    response_class=Response,
    responses=error_responses(400, 401, 403, 404, 422),
)
async def refuse_organisation(
    reseller_id: str, refusal: Refusal, user: OperatorUser, services: ServicesDep
) -> Response:
    """R1: the organisation may not claim; the note tells it why, by e-mail."""
    try:
        await run_in_threadpool(
            services.organisations.refuse, reseller_id, user.email, refusal.note
        )
    except OrganisationNotFound:
        raise _not_found(reseller_id) from None
    except MailServerUnavailable:
        pass  # refused; the reseller sees the status on GET /me
    return Response(status_code=204)


def _not_found(reseller_id: str) -> ApiError:
    return ApiError(
        404, "reseller_not_found", f"no organisation {reseller_id}: see GET /operator/resellers"
    )
