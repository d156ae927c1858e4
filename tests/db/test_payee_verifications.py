"""Verification of Payee (issue 14): the activity reveals the encrypted details by their
reference, asks the port and returns the code (and a close match's held name), never the IBAN;
the database remembers the code per reference and name, so details verified MTCH are not
asked about again; other answers are asked again. On SQLite and PostgreSQL."""

from __future__ import annotations

from activities.payee import PayeeActivities, PayeeCheck
from cashback.bank.simulated_payee import SimulatedPayeeVerification
from cashback.db import BankAccounts, BankDetails, Database
from cashback.db.payee_verifications import SqlPayeeAnswers
from cashback.db.tables import PayeeVerificationRow
from cashback.domain.payee import PayeeAnswer, PayeeAnswerCode
from cashback.domain.payout import HolderType

KEY = bytes(range(32))
NAME = "Acme Software GmbH"
MATCHING = BankDetails(
    holder_name=NAME, holder_type=HolderType.COMPANY, iban="DE89 3704 0044 0532 0130 00"
)
CLOSE = MATCHING.model_copy(update={"iban": "DE02120300000000202051"})


class Counting(SimulatedPayeeVerification):
    """The simulated responder, counting the IBANs it was asked about."""

    def __init__(self, answers: dict[str, str]) -> None:
        super().__init__(answers)
        self.asked: list[str] = []

    def verify(self, iban: str, name: str) -> PayeeAnswer:
        self.asked.append(iban)
        return super().verify(iban, name)


def test_vop_r10_a_match_is_remembered_and_not_asked_again(database: Database) -> None:
    accounts = BankAccounts(database, KEY)
    responder = Counting({CLOSE.iban: "CMTC:Acme Software Holding GmbH"})
    activities = PayeeActivities(accounts, responder, SqlPayeeAnswers(database))
    matching = accounts.store(MATCHING)
    close = accounts.store(CLOSE)

    first = activities.verify(PayeeCheck(reference=matching, name=NAME))
    again = activities.verify(PayeeCheck(reference=matching, name=NAME))
    other_name = activities.verify(PayeeCheck(reference=matching, name="Acme Software AG"))
    assert (first.answer.code, first.verified_before) == (PayeeAnswerCode.MATCH, False)
    assert (again.answer.code, again.verified_before) == (PayeeAnswerCode.MATCH, True)
    assert other_name.verified_before is False  # another name is another check

    for _ in range(2):  # a close match is asked again each time
        verified = activities.verify(PayeeCheck(reference=close, name=NAME))
        assert verified.answer == PayeeAnswer(
            code=PayeeAnswerCode.CLOSE_MATCH, held_name="Acme Software Holding GmbH"
        )
        assert not verified.verified_before
    assert responder.asked == [MATCHING.iban, MATCHING.iban, CLOSE.iban, CLOSE.iban]

    with database.reading() as session:
        rows = {
            (row.reference, row.checked_name): row.code
            for row in session.query(PayeeVerificationRow)
        }
    assert rows == {
        (matching, NAME): "MTCH",
        (matching, "Acme Software AG"): "MTCH",
        (close, NAME): "CMTC",
    }


def test_vop_r13_what_the_activity_returns_holds_no_iban(database: Database) -> None:
    accounts = BankAccounts(database, KEY)
    activities = PayeeActivities(
        accounts,
        SimulatedPayeeVerification({CLOSE.iban: "CMTC:Acme AG"}),
        SqlPayeeAnswers(database),
    )
    verified = activities.verify(PayeeCheck(reference=accounts.store(CLOSE), name=NAME))
    dumped = verified.model_dump_json()
    assert "Acme AG" in dumped
    assert CLOSE.iban not in dumped
    assert CLOSE.iban[4:] not in dumped
