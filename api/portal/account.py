"""The portal's account page: change the password (the API's service, throttled alike) and
manage the bank details confirmed for all later claims (R10: shown masked only, checked and
judged like a claim's, every change mailed; R13)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import ValidationError

from api.accounts import PasswordChange, change_password_of, request_source
from api.errors import ApiError
from api.portal.web import (
    PORTAL,
    PostingReseller,
    PostingSignedIn,
    SignedInVisitor,
    Visitor,
    may_claim,
)
from cashback.bank_details_changes import MailNotSent, withdraw_standing
from cashback.bank_details_links import HOLDER_NAME_MAX, Entered
from cashback.db.tables import Reseller
from cashback.domain.payout import HolderType
from cashback.standing_details import StandingRefused, confirm_standing

router = APIRouter(prefix=PORTAL, include_in_schema=False)
ACCOUNT = f"{PORTAL}/account"
DONE = ("password", "bank_details", "withdrawn")
Text = Annotated[str, Form(max_length=1024)]


def _account_page(
    visitor: Visitor,
    *,
    done: str = "",
    errors: dict[str, tuple[str, str]] | None = None,
    entered: Entered | None = None,
    status_code: int = 200,
) -> Response:
    assert visitor.user is not None
    reseller_id = visitor.user.reseller_id
    company = ""
    if reseller_id is not None:
        with visitor.services.database.reading() as session:
            company = session.get_one(Reseller, reseller_id).company_name
    # R1, R10: bank details for later claims are for an organisation that may claim.
    refused = may_claim(visitor)
    standing = visitor.services.standing.of(visitor.reseller_id) if refused is None else None
    return visitor.render(
        "account.html",
        status_code,
        email=visitor.user.email,
        company=company,
        may_claim=refused is None,
        refused=refused,
        standing=standing,
        done=done if done in DONE else "",
        errors=errors or {},
        entered=entered or Entered(holder_name=company),
        holder_name_max=HOLDER_NAME_MAX,
    )


@router.get("/account")
def account(visitor: SignedInVisitor, done: Annotated[str, Query(max_length=16)] = "") -> Response:
    """The password for every signed-in user; the bank details once the organisation may
    claim (R1)."""
    return _account_page(visitor, done=done)


@router.post("/account/password")
def change_password(
    visitor: PostingSignedIn, current_password: Text = "", new_password: Text = ""
) -> Response:
    """The API's password change: the current password again (wrong ones throttled like
    sign-ins), a strong new one; every other session of the user ends, this one goes on."""
    assert visitor.user is not None
    try:
        change = PasswordChange(current_password=current_password, new_password=new_password)
        change_password_of(visitor.services, visitor.user, change, request_source(visitor.request))
    except ValidationError as invalid:
        field = str(invalid.errors()[0]["loc"][0])
        return _account_page(visitor, errors={field: ("missing", "")}, status_code=422)
    except ApiError as refused:
        field = "current_password" if refused.status_code in (403, 429) else "new_password"
        return _account_page(
            visitor,
            errors={field: (refused.error, refused.detail)},
            status_code=refused.status_code,
        )
    return visitor.redirect(f"{ACCOUNT}?done=password")


@router.post("/account/bank-details")
async def confirm_bank_details(
    visitor: PostingReseller,
    holder_name: Text = "",
    holder_type: Text = HolderType.COMPANY.value,
    iban: Text = "",
    bic: Text = "",
) -> Response:
    """R10: bank details for all later claims; R11, R12 refusals at their fields; nothing
    changes unless the company could be mailed (R13)."""
    assert visitor.user is not None
    entered = Entered(holder_name, holder_type, iban, bic)
    try:
        await run_in_threadpool(
            confirm_standing, visitor.services, visitor.reseller_id, entered, visitor.user.email
        )
    except StandingRefused as refused:
        return _account_page(
            visitor, errors=refused.errors, entered=_without_iban(entered), status_code=422
        )
    except MailNotSent:
        errors = {"": ("mail_unavailable", "")}
        return _account_page(
            visitor, errors=errors, entered=_without_iban(entered), status_code=503
        )
    return visitor.redirect(f"{ACCOUNT}?done=bank_details")


@router.post("/account/bank-details/withdraw")
async def withdraw_bank_details(visitor: PostingReseller) -> Response:
    """R10: later claims ask for bank details again; the company is mailed."""
    assert visitor.user is not None
    await run_in_threadpool(
        withdraw_standing, visitor.services, visitor.reseller_id, visitor.user.email
    )
    return visitor.redirect(f"{ACCOUNT}?done=withdrawn")


def _without_iban(entered: Entered) -> Entered:
    """The IBAN is never sent back in a page (R13): it is typed again."""
    return Entered(entered.holder_name, entered.holder_type, "", entered.bic)
