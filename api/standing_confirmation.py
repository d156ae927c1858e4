"""The reseller's standing confirmation of bank details (R10 "submit or confirm"): given on
the secure page (R13) with "use these bank details for later claims too"; read (masked) and
withdrawn here. Without it every claim asks for bank details again."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.concurrency import run_in_threadpool

from api.deps import ResellerUser, ServicesDep
from api.errors import error_responses, not_found
from cashback.db.standing_confirmations import StandingDetails

router = APIRouter(tags=["accounts"])
PATH = "/account/bank-details"


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
    scheduled for payment keep the details they were given)."""
    assert user.reseller_id is not None
    if not await run_in_threadpool(services.standing.revoke, user.reseller_id):
        raise not_found("a standing confirmation of bank details")
    return Response(status_code=204)
