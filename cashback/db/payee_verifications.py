"""Verification of Payee answers per bank-details reference (issue 14, R11): the code only, so
that details verified MTCH are not asked about again before a later payment."""

from __future__ import annotations

from datetime import UTC, datetime

from cashback.db.session import Database
from cashback.db.tables import PayeeVerificationRow
from cashback.domain.payee import PayeeAnswerCode


class SqlPayeeAnswers:
    """The `activities.payee.PayeeAnswers` store in the database; each call one transaction."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def last_answer(self, reference: str, name: str) -> PayeeAnswerCode | None:
        with self._database.reading() as session:
            row = session.get(PayeeVerificationRow, (reference, name))
            return None if row is None else PayeeAnswerCode(row.code)

    def remember(self, reference: str, name: str, code: PayeeAnswerCode) -> None:
        with self._database.transaction() as session:
            row = session.get(PayeeVerificationRow, (reference, name))
            now = datetime.now(UTC)
            if row is None:
                session.add(
                    PayeeVerificationRow(
                        reference=reference, checked_name=name, code=code.value, verified_at=now
                    )
                )
            else:
                row.code, row.verified_at = code.value, now
