"""The simulated Verification of Payee responder (issue 14): MTCH by default, configured
answers per IBAN (any spacing), and a configuration it cannot answer refused without naming
the IBAN (R13)."""

from __future__ import annotations

import pytest

from cashback.bank.simulated_payee import (
    PayeeAnswersInvalid,
    SimulatedPayeeVerification,
    parse_answer,
)
from cashback.config import Settings
from cashback.domain.payee import PayeeAnswer, PayeeAnswerCode
from cashback.wiring import payee_verification

IBAN = "DE02120300000000202051"


def test_vop_every_account_matches_unless_configured() -> None:
    responder = SimulatedPayeeVerification()
    assert responder.verify(IBAN, "Contoso Software GmbH") == PayeeAnswer(
        code=PayeeAnswerCode.MATCH
    )


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("MTCH", PayeeAnswer(code=PayeeAnswerCode.MATCH)),
        ("nmtc", PayeeAnswer(code=PayeeAnswerCode.NO_MATCH)),
        ("NOAP", PayeeAnswer(code=PayeeAnswerCode.NOT_POSSIBLE)),
        (
            "CMTC: Contoso Software AG",
            PayeeAnswer(code=PayeeAnswerCode.CLOSE_MATCH, held_name="Contoso Software AG"),
        ),
    ],
)
def test_vop_a_configured_iban_answers_its_code_in_any_spacing(
    text: str, answer: PayeeAnswer
) -> None:
    responder = SimulatedPayeeVerification({"de02 1203 0000 0000 2020 51": text})
    assert responder.verify(IBAN, "Contoso Software GmbH") == answer
    assert responder.verify("DE89370400440532013000", "Contoso Software GmbH").code is (
        PayeeAnswerCode.MATCH
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("YES", "starts with one of MTCH, CMTC, NMTC, NOAP, not 'YES'"),
        ("CMTC", "names the holder the bank holds: CMTC:<name>"),
        ("NMTC:Contoso", "only CMTC names a holder, not NMTC"),
    ],
)
def test_vop_an_answer_it_cannot_give_is_refused_when_the_worker_starts(
    text: str, message: str
) -> None:
    """The worker's wiring fails at start with the answer's fault, never the IBAN."""
    with pytest.raises(PayeeAnswersInvalid, match=message) as refused:
        payee_verification(Settings(simulated_payee_answers={IBAN: text}))
    assert IBAN not in str(refused.value)
    assert IBAN[4:] not in repr(refused.value)
    with pytest.raises(PayeeAnswersInvalid):
        parse_answer(text)
