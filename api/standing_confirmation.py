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
from cashback.bank_details_changes import (
    MailNotSent,
    judge_standing,
    set_standing,
    withdraw_standing,
)
from cashback.bank_details_links import HOLDER_NAME_MAX, Entered, check
from cashback.db.standing_confirmations import StandingDetails
from cashback.domain.payout import BankDetailsJudgement, HolderType

router = APIRouter(tags=["accounts"])
PATH = "/account/bank-details"

_REFUSED = {
    BankDetailsJudgement.NAME_MISMATCH: (
        "holder_name_mismatch",
        "R11: the account holder must be named exactly like your company",
    ),
    BankDetailsJudgement.INDIVIDUAL_ACCOUNT: (
        "individual_account",
        "R12: cash back is paid to company accounts only, not to an individual's",
    ),
}


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
    checked, errors = check(
        Entered(details.holder_name, details.holder_type.value, details.iban, details.bic)
    )
    if checked is None:
        raise ApiError(
            422,
            "invalid_bank_details",
            "; ".join(f"{field}: {problem}" for field, problem in errors.items()),
        )
    judgement = await run_in_threadpool(judge_standing, services, user.reseller_id, checked)
    if judgement in _REFUSED:
        raise ApiError(422, *_REFUSED[judgement])
    try:
        await run_in_threadpool(set_standing, services, user.reseller_id, checked, user.email)
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
