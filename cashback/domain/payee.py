"""Verification of Payee (R11, issue 14; the EU Instant Payments Regulation): before the first
payment to new bank details, the account's bank is asked whether the name the program pays
(the organisation's registered legal name, R1, R11) is the name of the account's holder.

The bank answers with one of four codes (the EPC's VoP scheme); each drives one path:

- MTCH (match): the details are accepted;
- CMTC (close match; the bank says which name it holds) and NMTC (no match): the reseller is
  asked to correct the details, a correction request that counts as a notice (R10, R11);
- NOAP (verification not possible): the operators decide whether to pay to these details or to
  ask the reseller for other ones.

The IBAN goes to the port only; what comes back (and is recorded) is the code and, for CMTC,
the name the bank holds.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator


class PayeeAnswerCode(StrEnum):
    MATCH = "MTCH"
    CLOSE_MATCH = "CMTC"
    NO_MATCH = "NMTC"
    NOT_POSSIBLE = "NOAP"

    @property
    def meaning(self) -> str:
        return _MEANINGS[self]


_MEANINGS = {
    PayeeAnswerCode.MATCH: "the name matches the account holder's",
    PayeeAnswerCode.CLOSE_MATCH: "the name is close to the account holder's, but not the same",
    PayeeAnswerCode.NO_MATCH: "the name does not match the account holder's",
    PayeeAnswerCode.NOT_POSSIBLE: "the bank could not verify the payee",
}


class PayeeStep(StrEnum):
    """What the claim does with bank details after the bank's answer."""

    ACCEPT = "accept"  # pay to them
    ASK_FOR_CORRECTION = "ask_for_correction"  # R10, R11: a correction request, a notice
    ASK_THE_OPERATORS = "ask_the_operators"  # the operators decide


_STEPS = {
    PayeeAnswerCode.MATCH: PayeeStep.ACCEPT,
    PayeeAnswerCode.CLOSE_MATCH: PayeeStep.ASK_FOR_CORRECTION,
    PayeeAnswerCode.NO_MATCH: PayeeStep.ASK_FOR_CORRECTION,
    PayeeAnswerCode.NOT_POSSIBLE: PayeeStep.ASK_THE_OPERATORS,
}


class PayeeAnswer(BaseModel):
    """The bank's answer: a code and, for a close match only, the name the bank holds. Never
    the IBAN."""

    model_config = ConfigDict(frozen=True)

    code: PayeeAnswerCode
    held_name: str | None = Field(default=None, min_length=1, max_length=140)

    @model_validator(mode="after")
    def _held_name_only_for_a_close_match(self) -> PayeeAnswer:
        close = self.code is PayeeAnswerCode.CLOSE_MATCH
        if close and self.held_name is None:
            raise ValueError("a close match (CMTC) names the account holder the bank holds")
        if not close and self.held_name is not None:
            raise ValueError(f"only a close match (CMTC) names the holder, not {self.code}")
        return self

    @property
    def step(self) -> PayeeStep:
        return _STEPS[self.code]

    def describe(self) -> str:
        """The answer as the timeline and the mails give it: the code, what it means and, for
        a close match, the name the bank holds."""
        text = f"VoP: {self.code.value}, {self.code.meaning}"
        if self.held_name is not None:
            text += f' (the bank holds "{self.held_name}")'
        return text


class PayeeVerification(Protocol):
    """The Verification of Payee gateway: the account's bank checks `name` against `iban`."""

    def verify(self, iban: str, name: str) -> PayeeAnswer:
        """The bank's answer. Implementations never put the IBAN into an exception or a log."""
        ...
