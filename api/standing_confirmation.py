"""The reseller's standing confirmation of bank details (R10 "submit or confirm"): set (PUT),
read masked (GET) and withdrawn (DELETE) by a signed-in user of the reseller only; a link to
the secure page (R13) sets one claim's details, never these. Every change is mailed to the
reseller's address (api/bank_details_changes.py). Without them every claim asks for bank
details again."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from api.deps import ResellerUser, ServicesDep
from api.errors import ApiError, error_responses, not_found
from cashback.bank_details_changes import MailNotSent, withdraw_standing
from cashback.bank_details_links import HOLDER_NAME_MAX, Entered
from cashback.db.standing_confirmations import StandingDetails
from cashback.domain.payout import HolderType
from cashback.standing_details import REFUSED, StandingRefused, confirm_standing

router = APIRouter(tags=["accounts"])
PATH = "/account/bank-details"


class StandingDetailsUpdate(BaseModel):
    """Bank details for all later claims; the IBAN is never shown back, only masked."""

    holder_name: str = Field(max_length=HOLDER_NAME_MAX * 2, description="your company's name")
    holder_type: HolderType = HolderType.COMPANY
    iban: str = Field(max_length=64, repr=False)
    bic: str = Field(default="", max_length=16, description="optional")


@router.put(PATH, responses=error_responses(401, 403, 422, 503))
async def set_standing_bank_details(
    details: StandingDetailsUpdate, user: ResellerUser, services: ServicesDep
) -> StandingDetails:
    """R10: confirm bank details for all of the company's later claims (replacing earlier
    ones), checked like the secure page's (IBAN, BIC) and judged like a claim's (R11: the
    holder is named like the company; R12: a company account). The company is mailed the
    change (masked IBAN) first: when the mail cannot be sent, nothing changes (503)."""
    assert user.reseller_id is not None
    entered = Entered(details.holder_name, details.holder_type.value, details.iban, details.bic)
    try:
        await run_in_threadpool(confirm_standing, services, user.reseller_id, entered, user.email)
    except StandingRefused as refused:
        codes = {code for code, _ in refused.errors.values()}
        judged = [REFUSED[judgement] for judgement in REFUSED if REFUSED[judgement][0] in codes]
        if judged:
            raise ApiError(422, *judged[0]) from None
        raise ApiError(
            422,
            "invalid_bank_details",
            "; ".join(f"{field}: {code}" for field, (code, _) in refused.errors.items()),
        ) from None
    except MailNotSent:
        raise ApiError(
            503,
            "mail_unavailable",
            "we could not e-mail your company about the change, so nothing was changed: "
            "try again later",
        ) from None
    found = await run_in_threadpool(services.standing.of, user.reseller_id)
    assert found is not None
    return found


@router.get(PATH, responses=error_responses(401, 403, 404))
async def standing_bank_details(user: ResellerUser, services: ServicesDep) -> StandingDetails:
    """The bank details confirmed for the company's later claims: the masked IBAN only."""
    assert user.reseller_id is not None
    found = await run_in_threadpool(services.standing.of, user.reseller_id)
    if found is None:
        raise not_found("a standing confirmation of bank details")
    return found


@router.delete(PATH, status_code=204, responses=error_responses(401, 403, 404))
async def withdraw_standing_bank_details(user: ResellerUser, services: ServicesDep) -> Response:
    """Withdraw the confirmation: later claims ask for bank details again (claims already
    scheduled for payment keep the details they were given). The company is mailed."""
    assert user.reseller_id is not None
    withdrawn = await run_in_threadpool(withdraw_standing, services, user.reseller_id, user.email)
    if not withdrawn:
        raise not_found("a standing confirmation of bank details")
    return Response(status_code=204)
