"""E-mails that tell a reseller its bank details changed (R10, R13): given for one claim on the
secure page, or set or withdrawn for all later claims by a signed-in user. Each shows the IBAN
masked only, how to undo the change, and the support address (R17), in the reseller's
language (D6). They are sent by the API as the change happens, not by a claim's workflow."""

from __future__ import annotations

from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict

from cashback.domain.reseller import ResellerSnapshot


class BankDetailsChangeKind(StrEnum):
    """The template of a change (templates/mail/<language>/<kind>.*)."""

    CLAIM = "claim_bank_details_changed"  # given or confirmed for one claim (R13)
    STANDING = "standing_bank_details_changed"  # set or withdrawn for later claims (R10)


class BankDetailsChange(BaseModel):
    """One change of bank details, as the reseller is told of it: never the IBAN itself."""

    model_config = ConfigDict(frozen=True)

    kind: BankDetailsChangeKind
    reseller: ResellerSnapshot
    masked_iban: str
    changed_at: AwareDatetime
    changed_by: str | None = None  # the signed-in user's e-mail address (standing details)
    withdrawn: bool = False  # standing details withdrawn rather than set
    claim_id: str | None = None
    agreement_number: str | None = None
    offer_name: str | None = None

    @property
    def key(self) -> str:
        """Names the message (its Message-ID and `X-Cashback-Bank-Details` header); short, so
        that the header is never folded."""
        about = self.claim_id or self.reseller.reseller_id
        return f"{about}/bank-details/{round(self.changed_at.timestamp() * 1_000_000)}"
