"""A simulated Verification of Payee responder (issue 14, R11) for the embedded default, tests and
demos: it answers MTCH for every account, unless its answers say otherwise for an IBAN.

Answers are configured per IBAN (any spacing, `CASHBACK_SIMULATED_PAYEE_ANSWERS`, as the
simulated bank's behaviours are): `MTCH`, `NMTC`, `NOAP`, or `CMTC:<the name the bank holds>`.
"""

from __future__ import annotations

from collections.abc import Mapping

from cashback.domain.payee import PayeeAnswer, PayeeAnswerCode


class PayeeAnswersInvalid(ValueError):
    """A configured answer is not one the responder can give (the IBAN is not named)."""


def parse_answer(text: str) -> PayeeAnswer:
    """`MTCH`, `NMTC`, `NOAP` or `CMTC:<held name>` as an answer; PayeeAnswersInvalid else."""
    code, _, held_name = text.partition(":")
    try:
        answer_code = PayeeAnswerCode(code.strip().upper())
    except ValueError:
        codes = ", ".join(c.value for c in PayeeAnswerCode)
        raise PayeeAnswersInvalid(
            f"a simulated payee answer starts with one of {codes}, not {code.strip()!r}"
        ) from None
    held = held_name.strip() or None
    if answer_code is PayeeAnswerCode.CLOSE_MATCH and held is None:
        raise PayeeAnswersInvalid(
            "a simulated close match names the holder the bank holds: CMTC:<name>"
        )
    if answer_code is not PayeeAnswerCode.CLOSE_MATCH and held is not None:
        raise PayeeAnswersInvalid(f"only CMTC names a holder, not {answer_code.value}")
    return PayeeAnswer(code=answer_code, held_name=held)


class SimulatedPayeeVerification:
    """A `PayeeVerification` port: MTCH unless `answers` (IBAN -> answer text) says otherwise."""

    def __init__(self, answers: Mapping[str, str] | None = None) -> None:
        self._answers = {
            _compact(iban): parse_answer(text) for iban, text in (answers or {}).items()
        }

    def verify(self, iban: str, name: str) -> PayeeAnswer:
        return self._answers.get(_compact(iban), PayeeAnswer(code=PayeeAnswerCode.MATCH))


def _compact(iban: str) -> str:
    return "".join(iban.split()).upper()
