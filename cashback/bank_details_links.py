"""The secure bank-details link (R10-R13) as an application service: what a link leads to,
the details entered checked on the spot, and the details given (stored encrypted, the link
spent, the claim's workflow told, the reseller mailed). The page (api/bank_details.py) only
chooses the language, renders and maps a refusal to its page; everything here reads the
database (the claim's read model), never the workflow's state."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol

from anyio import to_thread
from schwifty import BIC, IBAN
from schwifty.exceptions import (
    InvalidChecksumDigits,
    InvalidCountryCode,
    InvalidLength,
    SchwiftyException,
)
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.service import RPCError

from cashback.bank_details_changes import tell_claim_change
from cashback.claims import BankDetailsSubmission, claim_workflow_id
from cashback.db import BankAccounts, BankDetails, Database, mask_iban
from cashback.db.invitations import BankDetailsInvitations
from cashback.db.standing_confirmations import StandingConfirmations
from cashback.db.tables import BankDetailsInvitation, Claim, Offer, Reseller
from cashback.domain.money import Money
from cashback.domain.names import control_characters
from cashback.domain.payout import BankDetailsJudgement, HolderType
from cashback.domain.reseller import Language
from cashback.domain.status import ClaimStatus
from cashback.mail import SmtpOutbox

log = logging.getLogger(__name__)

HOLDER_NAME_MAX = 70  # SEPA: the account holder's name has at most 70 characters
_ACCEPTING = {ClaimStatus.AWAITING_BANK_DETAILS, ClaimStatus.PAYMENT_FAILED}


class Services(Protocol):
    """What the link needs (the API's `Services` has it)."""

    database: Database
    temporal: Client
    outbox: SmtpOutbox
    bank_accounts: BankAccounts
    standing: StandingConfirmations
    invitations: BankDetailsInvitations


class Problem(StrEnum):
    """Why the page cannot take bank details; each has its own text and status."""

    UNKNOWN = "unknown"  # 404: no such link
    USED = "used"  # 410: the link worked once already
    EXPIRED = "expired"  # 410: the notice's respond-by time has passed
    CLOSED = "closed"  # 409: the claim no longer waits for bank details
    UNAVAILABLE = "unavailable"  # 503: the workflow service does not answer

    @property
    def status_code(self) -> int:
        return {"unknown": 404, "used": 410, "expired": 410, "closed": 409}.get(self.value, 503)


class LinkRefused(Exception):
    """The link cannot take bank details: why."""

    def __init__(self, problem: Problem, language: Language | None = None) -> None:
        super().__init__(problem.value)
        self.problem = problem
        self.language = language  # the reseller's, when the link is known


@dataclass
class Entered:
    """The form as submitted; `iban` is never rendered back."""

    holder_name: str = ""
    holder_type: str = HolderType.COMPANY.value
    iban: str = field(default="", repr=False)
    bic: str = ""


def check(entered: Entered) -> tuple[BankDetails | None, dict[str, str]]:
    """The entered details, or the error (a message key) per field. IBAN and BIC are checked
    with schwifty; exception texts are not used (they may quote the IBAN)."""
    errors: dict[str, str] = {}
    name = " ".join(entered.holder_name.split())
    if control_characters(entered.holder_name):  # before split() turns line breaks into spaces
        errors["holder_name"] = "holder_name_control_characters"
    elif not name:
        errors["holder_name"] = "holder_name_missing"
    elif len(name) > HOLDER_NAME_MAX:
        errors["holder_name"] = "holder_name_too_long"
    if entered.holder_type not in {holder.value for holder in HolderType}:
        errors["holder_type"] = "holder_type_missing"
    iban = "".join(entered.iban.split()).upper()
    if not iban:
        errors["iban"] = "iban_missing"
    else:
        try:
            iban = IBAN(iban).compact
        except InvalidChecksumDigits:
            errors["iban"] = "iban_checksum"
        except InvalidLength:
            errors["iban"] = "iban_length"
        except InvalidCountryCode:
            errors["iban"] = "iban_country"
        except SchwiftyException:
            errors["iban"] = "iban_invalid"
    bic = "".join(entered.bic.split()).upper()
    if bic:
        try:
            bic = BIC(bic).compact
        except SchwiftyException:
            errors["bic"] = "bic_invalid"
    if errors:
        return None, errors
    details = BankDetails(
        holder_name=name, holder_type=HolderType(entered.holder_type), iban=iban, bic=bic or None
    )
    return details, {}


@dataclass(frozen=True)
class LinkedClaim:
    claim_id: str
    expires_at: datetime
    used: bool
    reseller_id: str
    language: Language
    company_name: str
    agreement_number: str
    offer_name: str
    status: ClaimStatus
    amount: Money | None
    bank_details_ref: str | None
    received_at: datetime  # the claim's arrival: the origin of its program clock
    masked_on_file: str | None = None  # the details on file (after a payment failure), masked


def _find(services: Services, token: str) -> LinkedClaim:
    """What the database knows of a link; raises `LookupError` for an unknown one."""
    # The invitations keep only the token's SHA-256 (cashback/db/invitations.py).
    digest = hashlib.sha256(token.encode()).hexdigest()
    with services.database.reading() as session:
        invitation = session.get(BankDetailsInvitation, digest)
        claim = session.get(Claim, invitation.claim_id) if invitation else None
        if invitation is None or claim is None:
            raise LookupError("no such link")
        reseller = session.get_one(Reseller, claim.reseller_id)
        return LinkedClaim(
            claim_id=claim.id,
            expires_at=invitation.expires_at,
            used=invitation.used_at is not None,
            reseller_id=claim.reseller_id,
            language=reseller.language,
            company_name=reseller.company_name,
            agreement_number=claim.agreement_number,
            offer_name=session.get_one(Offer, claim.offer_id).name,
            status=claim.status,
            amount=Money(minor_units=claim.amount_minor_units, currency=claim.currency)
            if claim.amount_minor_units is not None and claim.currency is not None
            else None,
            bank_details_ref=claim.bank_details_ref,
            received_at=claim.created_at,
        )


def open_link(services: Services, token: str) -> LinkedClaim:
    """The claim behind a link that may still take bank details (R13: one-time, expiring;
    the claim waits for bank details), with the details on file masked. Raises `LinkRefused`
    (`LookupError` inside: an unknown link)."""
    try:
        link = _find(services, token)
    except LookupError:
        raise LinkRefused(Problem.UNKNOWN) from None
    if link.used:
        raise LinkRefused(Problem.USED, link.language)
    if link.expires_at <= datetime.now(UTC):
        raise LinkRefused(Problem.EXPIRED, link.language)
    if link.status not in _ACCEPTING:
        raise LinkRefused(Problem.CLOSED, link.language)
    if link.bank_details_ref is None:
        return link
    masked = services.bank_accounts.masked(link.bank_details_ref)
    return LinkedClaim(**{**link.__dict__, "masked_on_file": masked})


@dataclass(frozen=True)
class Given:
    judgement: BankDetailsJudgement
    masked_iban: str


async def give_bank_details(
    services: Services, token: str, link: LinkedClaim, details: BankDetails | None
) -> Given:
    """R10-R13: the details given on the page (None: the details on file confirmed) are stored
    encrypted, the link is spent, the claim's workflow judges them (update
    `submit_bank_details`, R11, R12) and the reseller is mailed the change (masked). Raises
    `LinkRefused` (USED: spent meanwhile; CLOSED: the claim no longer takes them)."""
    reference = link.bank_details_ref if details is None else None
    if details is None:
        assert reference is not None
        details = await to_thread.run_sync(services.bank_accounts.reveal, reference)
    # Spend the link before storing anything: of two racing submissions (a double click) only
    # one gets this far, and the other leaves no orphan bank details behind.
    if await to_thread.run_sync(services.invitations.use, token) is None:
        raise LinkRefused(Problem.USED, link.language)
    if reference is None:
        reference = await to_thread.run_sync(services.bank_accounts.store, details)
    handle = services.temporal.get_workflow_handle(claim_workflow_id(link.claim_id))
    try:
        judgement = await handle.execute_update(
            "submit_bank_details",
            BankDetailsSubmission(
                reference=reference,
                holder_type=details.holder_type,
                holder_name=details.holder_name,
            ),
            result_type=BankDetailsJudgement,
        )
    except (WorkflowUpdateFailedError, RPCError):
        # The validator refused (no bank details requested any more) or the claim has ended.
        raise LinkRefused(Problem.CLOSED, link.language) from None
    log.info("bank details for claim %s judged %s", link.claim_id, judgement.value)
    masked_iban = mask_iban(details.iban)
    await to_thread.run_sync(
        lambda: tell_claim_change(
            services,
            link.reseller_id,
            claim_id=link.claim_id,
            agreement_number=link.agreement_number,
            offer_name=link.offer_name,
            masked_iban=masked_iban,
        )
    )
    return Given(judgement, masked_iban)
