"""Verification of Payee (issue 14, R11): before the first payment to new bank details, the
account's bank checks the organisation's registered legal name against the account.

The activity reveals the encrypted details by their reference (as the payment gateway does),
asks the `PayeeVerification` port and returns only the code and, for a close match, the name
the bank holds: never the IBAN, so the workflow's history does not carry it (R13). Answers are
remembered per reference and name: details verified MTCH before (standing details confirmed
for all claims, R10) are not asked about again.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field
from temporalio import activity
from temporalio.common import RetryPolicy

from cashback.domain.payee import PayeeAnswer, PayeeAnswerCode, PayeeVerification

TIMEOUT = timedelta(seconds=30)
RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=5))


class RevealedAccount(Protocol):
    @property
    def iban(self) -> str: ...


class AccountSource(Protocol):
    def reveal(self, reference: str) -> RevealedAccount:
        """The details stored under `reference`, in the clear (cashback.db.BankAccounts)."""
        ...


class PayeeAnswers(Protocol):
    def last_answer(self, reference: str, name: str) -> PayeeAnswerCode | None:
        """The bank's last answer for these details and this name, if it was asked."""
        ...

    def remember(self, reference: str, name: str, code: PayeeAnswerCode) -> None: ...


class PayeeCheck(BaseModel):
    """Which details to verify (their reference) against which name."""

    model_config = ConfigDict(frozen=True)

    reference: str = Field(min_length=1)
    name: str = Field(min_length=1)


class PayeeVerified(BaseModel):
    """The bank's answer, and whether it is one given earlier for the same details and name
    (then the bank was not asked again)."""

    model_config = ConfigDict(frozen=True)

    answer: PayeeAnswer
    verified_before: bool = False


class PayeeActivities:
    def __init__(
        self, accounts: AccountSource, verification: PayeeVerification, answers: PayeeAnswers
    ) -> None:
        self._accounts = accounts
        self._verification = verification
        self._answers = answers

    @activity.defn(name="payee.verify")
    def verify(self, check: PayeeCheck) -> PayeeVerified:
        """VoP: the bank's answer for the details of `check.reference` and `check.name`."""
        if self._answers.last_answer(check.reference, check.name) is PayeeAnswerCode.MATCH:
            return PayeeVerified(
                answer=PayeeAnswer(code=PayeeAnswerCode.MATCH), verified_before=True
            )
        iban = self._accounts.reveal(check.reference).iban
        answer = self._verification.verify(iban, check.name)
        self._answers.remember(check.reference, check.name, answer.code)
        return PayeeVerified(answer=answer)
