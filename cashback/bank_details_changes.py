"""Bank details stay with their owner (R10, R13): every change of a claim's or the standing bank
details is mailed to the reseller's address, in its language (D6), with the IBAN masked, how
to undo the change and the support address (R17); standing details are set or withdrawn only
by a signed-in user of the reseller. Application services: the routes (the secure page in
api/bank_details.py, api/standing_confirmation.py) call them with the API's services."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Protocol

from cashback.db import BankAccounts, BankDetails, Database, mask_iban
from cashback.db.standing_confirmations import StandingConfirmations
from cashback.db.tables import Reseller
from cashback.domain.payout import BankDetailsJudgement, judge_bank_details
from cashback.domain.reseller import ResellerSnapshot
from cashback.mail import (
    BankDetailsChange,
    BankDetailsChangeKind,
    InvalidNotice,
    MailServerUnavailable,
    SmtpOutbox,
)

log = logging.getLogger(__name__)


class Services(Protocol):
    """What these services need (the API's `Services` has it)."""

    database: Database
    outbox: SmtpOutbox
    bank_accounts: BankAccounts
    standing: StandingConfirmations


class MailNotSent(Exception):
    """The mail about a change could not be sent; the change was not made."""


def reseller_of(services: Services, reseller_id: str) -> ResellerSnapshot:
    """The reseller as its mails address it: name, language, e-mail address."""
    with services.database.reading() as session:
        reseller = session.get_one(Reseller, reseller_id)
        return ResellerSnapshot(
            reseller_id=reseller.id,
            company_name=reseller.company_name,
            country=reseller.country,
            language=reseller.language,
            email=reseller.email,
        )


def tell_claim_change(
    services: Services,
    reseller_id: str,
    *,
    claim_id: str,
    agreement_number: str,
    offer_name: str,
    masked_iban: str,
) -> bool:
    """R13: mail the reseller that bank details were given for one claim on the secure page.
    The claim has them already: a mail that cannot be sent is logged (without details) and
    answered False."""
    change = BankDetailsChange(
        kind=BankDetailsChangeKind.CLAIM,
        reseller=reseller_of(services, reseller_id),
        masked_iban=masked_iban,
        changed_at=datetime.now(UTC),
        claim_id=claim_id,
        agreement_number=agreement_number,
        offer_name=offer_name,
    )
    try:
        services.outbox.send_change(change)
    except (InvalidNotice, MailServerUnavailable) as error:
        log.error("the mail about the bank details of claim %s was not sent: %s", claim_id, error)
        return False
    return True


def judge_standing(
    services: Services, reseller_id: str, details: BankDetails
) -> BankDetailsJudgement:
    """R11, R12: standing details are judged as a claim would judge them."""
    company_name = reseller_of(services, reseller_id).company_name
    return judge_bank_details(details.holder_type, details.holder_name, company_name)


def set_standing(
    services: Services, reseller_id: str, details: BankDetails, changed_by: str
) -> None:
    """R10: confirm `details` for the reseller's later claims. The mail goes out first: a change
    the reseller was not told of never happens (raises `MailNotSent`, nothing is stored)."""
    _tell_standing(services, reseller_id, mask_iban(details.iban), changed_by, withdrawn=False)
    reference = services.bank_accounts.store(details)
    services.standing.give(reseller_id, reference)


def withdraw_standing(services: Services, reseller_id: str, changed_by: str) -> bool:
    """R10: withdraw the standing details (False when there were none), then mail it; the
    withdrawal stands even when the mail cannot be sent (it is logged)."""
    standing = services.standing.of(reseller_id)
    if standing is None or not services.standing.revoke(reseller_id):
        return False
    try:
        _tell_standing(services, reseller_id, standing.masked_iban, changed_by, withdrawn=True)
    except MailNotSent:
        log.error("the mail about the withdrawn bank details of %s was not sent", reseller_id)
    return True


def _tell_standing(
    services: Services, reseller_id: str, masked_iban: str, changed_by: str, *, withdrawn: bool
) -> None:
    change = BankDetailsChange(
        kind=BankDetailsChangeKind.STANDING,
        reseller=reseller_of(services, reseller_id),
        masked_iban=masked_iban,
        changed_at=datetime.now(UTC),
        changed_by=changed_by,
        withdrawn=withdrawn,
    )
    try:
        services.outbox.send_change(change)
    except (InvalidNotice, MailServerUnavailable) as error:
        # The exception texts name the notice key only (cashback/mail/smtp.py), never details.
        log.warning("bank details mail for %s not sent: %s", reseller_id, error)
        raise MailNotSent from None
