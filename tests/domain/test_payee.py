"""Verification of Payee (issue 14; R10, R11): the bank's four answer codes, what each leads
to, and what the answer may carry (the held name only for a close match)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from cashback.domain.payee import PayeeAnswer, PayeeAnswerCode, PayeeStep


def test_vop_r11_each_code_has_its_path() -> None:
    """VoP, R11: MTCH pays; CMTC and NMTC ask the reseller for a correction (a notice, R10);
    NOAP goes to the operators. The wire values are the EPC scheme's codes."""
    steps = {
        code: PayeeAnswer(
            code=code,
            held_name="Contoso GmbH" if code is PayeeAnswerCode.CLOSE_MATCH else None,
        ).step
        for code in PayeeAnswerCode
    }
    assert steps == {
        PayeeAnswerCode.MATCH: PayeeStep.ACCEPT,
        PayeeAnswerCode.CLOSE_MATCH: PayeeStep.ASK_FOR_CORRECTION,
        PayeeAnswerCode.NO_MATCH: PayeeStep.ASK_FOR_CORRECTION,
        PayeeAnswerCode.NOT_POSSIBLE: PayeeStep.ASK_THE_OPERATORS,
    }
    assert [code.value for code in PayeeAnswerCode] == ["MTCH", "CMTC", "NMTC", "NOAP"]


def test_vop_a_close_match_names_the_holder_and_only_it_does() -> None:
    """VoP: CMTC carries the name the bank holds; no other answer carries a name."""
    with pytest.raises(ValidationError, match="close match"):
        PayeeAnswer(code=PayeeAnswerCode.CLOSE_MATCH)
    for code in (PayeeAnswerCode.MATCH, PayeeAnswerCode.NO_MATCH, PayeeAnswerCode.NOT_POSSIBLE):
        with pytest.raises(ValidationError, match=f"only a close match .* not {code.value}"):
            PayeeAnswer(code=code, held_name="Contoso GmbH")


def test_vop_the_answer_as_the_timeline_gives_it() -> None:
    """VoP: the code, what it means, and for CMTC the name the bank holds."""
    assert PayeeAnswer(code=PayeeAnswerCode.MATCH).describe() == (
        "VoP: MTCH, the name matches the account holder's"
    )
    assert PayeeAnswer(code=PayeeAnswerCode.NO_MATCH).describe() == (
        "VoP: NMTC, the name does not match the account holder's"
    )
    assert PayeeAnswer(code=PayeeAnswerCode.NOT_POSSIBLE).describe() == (
        "VoP: NOAP, the bank could not verify the payee"
    )
    close = PayeeAnswer(code=PayeeAnswerCode.CLOSE_MATCH, held_name="Contoso Software AG")
    assert close.describe() == (
        "VoP: CMTC, the name is close to the account holder's, but not the same "
        '(the bank holds "Contoso Software AG")'
    )


def test_vop_an_answer_is_frozen() -> None:
    answer = PayeeAnswer(code=PayeeAnswerCode.MATCH)
    with pytest.raises(ValidationError):
        answer.code = PayeeAnswerCode.NO_MATCH  # type: ignore[misc]
