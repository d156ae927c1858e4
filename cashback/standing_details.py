"""R10: confirming bank details for all of a reseller's later claims, as one application
service for the API (`PUT /account/bank-details`) and the portal's account page: checked like
the secure page's (IBAN, BIC), judged like a claim's (R11, R12), mailed (masked), stored."""

from __future__ import annotations

from cashback.bank_details_changes import MailNotSent, Services, judge_standing, set_standing
from cashback.bank_details_links import Entered, check
from cashback.domain.payout import BankDetailsJudgement

# R11, R12: standing details a claim would refuse, by field: (code, sentence).
REFUSED = {
    BankDetailsJudgement.NAME_MISMATCH: (
        "holder_name_mismatch",
        "R11: the account holder must be named exactly like your company",
    ),
    BankDetailsJudgement.INDIVIDUAL_ACCOUNT: (
        "individual_account",
        "R12: cash back is paid to company accounts only, not to an individual's",
    ),
}


class StandingRefused(Exception):
    """The details were not confirmed: per field, a message key (`check`'s keys, or
    `holder_name_mismatch`, `individual_account`) and a sentence; nothing was stored."""

    def __init__(self, errors: dict[str, tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{field}: {code}" for field, (code, _) in errors.items()))
        self.errors = errors


def confirm_standing(
    services: Services, reseller_id: str, entered: Entered, changed_by: str
) -> None:
    """R10: `entered` confirmed for the reseller's later claims (replacing earlier ones).
    Raises `StandingRefused` (invalid, R11, R12) and `MailNotSent` (nothing changed)."""
    checked, errors = check(entered)
    if checked is None:
        raise StandingRefused({field: (code, code) for field, code in errors.items()})
    judgement = judge_standing(services, reseller_id, checked)
    if judgement in REFUSED:
        code, sentence = REFUSED[judgement]
        field = (
            "holder_type" if judgement is BankDetailsJudgement.INDIVIDUAL_ACCOUNT else "holder_name"
        )
        raise StandingRefused({field: (code, sentence)})
    set_standing(services, reseller_id, checked, changed_by)


__all__ = ["REFUSED", "MailNotSent", "StandingRefused", "confirm_standing"]
