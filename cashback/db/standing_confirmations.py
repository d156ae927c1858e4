"""Standing confirmations of bank details (R10: the reseller "must submit or confirm" them).

A reseller who entered or confirmed valid company details on the secure page (R13) may confirm
them for every later claim too. A claim that reaches AWAITING_BANK_DETAILS then takes them from
here instead of sending a request, and is judged like details from the page (R11, R12). The
row holds only the reference of the encrypted details; revoking it restores the requests.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict
from sqlalchemy import delete, select

from cashback.claims import BankDetailsSubmission
from cashback.db.bank_accounts import BankAccounts
from cashback.db.session import Database
from cashback.db.tables import BankAccount, StandingConfirmation
from cashback.domain.payout import BankDetailsJudgement, judge_bank_details


class StandingDetails(BaseModel):
    """What a reseller sees of their standing confirmation: the masked IBAN only (R13)."""

    model_config = ConfigDict(frozen=True)

    masked_iban: str
    given_at: AwareDatetime


class StandingConfirmations:
    """One standing confirmation per reseller; each call is one transaction."""

    def __init__(self, database: Database, accounts: BankAccounts) -> None:
        self._database = database
        self._accounts = accounts

    def give(self, reseller_id: str, reference: str) -> None:
        """Confirm the details stored under `reference` for the reseller's later claims
        (replacing an earlier confirmation)."""
        with self._database.transaction() as session:
            row = session.get(StandingConfirmation, reseller_id)
            if row is None:
                row = StandingConfirmation(reseller_id=reseller_id)
                session.add(row)
            row.bank_details_ref = reference
            row.given_at = datetime.now(UTC)

    def revoke(self, reseller_id: str) -> bool:
        """Withdraw the confirmation; False when there was none."""
        with self._database.transaction() as session:
            result = session.execute(
                delete(StandingConfirmation).where(StandingConfirmation.reseller_id == reseller_id)
            )
            return bool(getattr(result, "rowcount", 0))

    def of(self, reseller_id: str) -> StandingDetails | None:
        with self._database.reading() as session:
            found = session.execute(
                select(BankAccount.masked_iban, StandingConfirmation.given_at)
                .join(BankAccount, BankAccount.reference == StandingConfirmation.bank_details_ref)
                .where(StandingConfirmation.reseller_id == reseller_id)
            ).one_or_none()
        if found is None:
            return None
        return StandingDetails(masked_iban=found.masked_iban, given_at=found.given_at)

    def confirmed_details(self, reseller_id: str) -> BankDetailsSubmission | None:
        """The confirmed details as the workflow sees them (a reference, the holder's type and
        name; never the IBAN), or None without a standing confirmation."""
        with self._database.reading() as session:
            reference = session.scalar(
                select(StandingConfirmation.bank_details_ref).where(
                    StandingConfirmation.reseller_id == reseller_id
                )
            )
        if reference is None:
            return None
        details = self._accounts.reveal(reference)
        return BankDetailsSubmission(
            reference=reference, holder_type=details.holder_type, holder_name=details.holder_name
        )

    def masked_if_valid(self, reseller_id: str, company_name: str) -> str | None:
        """The masked IBAN of the confirmed details when a claim of `company_name` would take
        them (R11, R12: judged as the workflow judges them), else None."""
        confirmed = self.confirmed_details(reseller_id)
        if confirmed is None:
            return None
        judgement = judge_bank_details(confirmed.holder_type, confirmed.holder_name, company_name)
        if judgement is not BankDetailsJudgement.VALID:
            return None
        return self._accounts.masked(confirmed.reference)
