"""A simulated bank for the embedded default and for demos: a payment gateway with a ledger of
its own (a SQLite file), answering as a real one would.

- The idempotency key is honoured: the same key gets the first answer, never a second transfer
  (D5).
- Rejections for bank-detail reasons use ISO 20022 reason codes and drive R16: AC01 wrong
  account, AC04 closed, AC06 blocked, BE01 name inconsistent with the account.
- Transient failures (AB05, AB06 timeouts, TECH) raise TransientBankError: Temporal retries.
- Which IBANs fail how is configured (`behaviours`), for tests and demos.
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Callable, Mapping
from contextlib import closing
from pathlib import Path

from pydantic import BaseModel, ConfigDict
from schwifty import IBAN
from schwifty.exceptions import SchwiftyException

from activities.payments import PaymentOrder, PaymentOutcome, PaymentResult, TransientBankError
from cashback.db.bank_accounts import mask_iban

BANK_DETAIL_ERRORS: Mapping[str, str] = {
    "AC01": "incorrect account number",
    "AC04": "account closed",
    "AC06": "account blocked",
    "BE01": "account holder name inconsistent with the account",
}
TRANSIENT_ERRORS: Mapping[str, str] = {
    "AB05": "timeout at the creditor agent",
    "AB06": "timeout at the instructed agent",
    "TECH": "technical problem at the bank",
}


class Payee(BaseModel):
    """What the bank needs of the account: revealed from the encrypted store at payment time."""

    model_config = ConfigDict(frozen=True)

    holder_name: str
    iban: str
    bic: str | None = None


class SimulatedBank:
    """A payment gateway (activities.payments.PaymentGateway) with a persistent ledger.

    `payee_for(reference)` turns the workflow's bank-details reference into the account;
    `behaviours` maps an IBAN (any spacing) to the reason code the bank answers with.
    """

    def __init__(
        self,
        ledger_path: Path,
        payee_for: Callable[[str], Payee],
        behaviours: Mapping[str, str] | None = None,
    ) -> None:
        unknown = set((behaviours or {}).values()) - set(BANK_DETAIL_ERRORS) - set(TRANSIENT_ERRORS)
        if unknown:
            raise ValueError(f"unknown bank reason codes in behaviours: {sorted(unknown)}")
        self._path = ledger_path
        self._payee_for = payee_for
        self._behaviours = {_compact(iban): code for iban, code in (behaviours or {}).items()}
        self._lock = threading.Lock()
        ledger_path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as db, db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS transfers ("
                " idempotency_key TEXT PRIMARY KEY, claim_id TEXT NOT NULL,"
                " amount_minor INTEGER NOT NULL, currency TEXT NOT NULL, masked_iban TEXT NOT NULL,"
                " outcome TEXT NOT NULL, return_code TEXT, bank_reference TEXT,"
                " booked_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)"
            )

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self._path, timeout=30, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        return db

    def pay(self, order: PaymentOrder) -> PaymentResult:
        """Transfer once per idempotency key (D5); a known key returns its first answer."""
        with self._lock, closing(self._connect()) as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                result = self._known(db, order.idempotency_key) or self._book(db, order)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            return result

    def _known(self, db: sqlite3.Connection, key: str) -> PaymentResult | None:
        row = db.execute(
            "SELECT outcome, return_code, bank_reference FROM transfers WHERE idempotency_key = ?",
            (key,),
        ).fetchone()
        if row is None:
            return None
        outcome, code, reference = row
        return _result(PaymentOutcome(outcome), code, reference)

    def _book(self, db: sqlite3.Connection, order: PaymentOrder) -> PaymentResult:
        payee = self._payee_for(order.bank_details_ref)
        iban = _compact(payee.iban)
        code = self._behaviours.get(iban) or validity_code(iban)
        if code is not None and code in TRANSIENT_ERRORS:
            raise TransientBankError(f"{code}: {TRANSIENT_ERRORS[code]}")
        outcome = PaymentOutcome.REJECTED if code else PaymentOutcome.PAID
        reference = None if code else f"SIM-{uuid.uuid4().hex[:16].upper()}"
        db.execute(
            "INSERT INTO transfers (idempotency_key, claim_id, amount_minor, currency, masked_iban,"
            " outcome, return_code, bank_reference) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                order.idempotency_key,
                order.claim_id,
                order.amount.minor_units,
                order.amount.currency,
                mask_iban(iban),  # the ledger names the account, never in full
                outcome.value,
                code,
                reference,
            ),
        )
        return _result(outcome, code, reference)

    def transfers(self, claim_id: str | None = None) -> list[tuple[str, str, int, str]]:
        """Money that moved: (idempotency key, claim id, amount in minor units, currency)."""
        query = "SELECT idempotency_key, claim_id, amount_minor, currency FROM transfers"
        query += " WHERE outcome = 'paid'" + (" AND claim_id = ?" if claim_id else "")
        with closing(self._connect()) as db:
            rows = db.execute(query + " ORDER BY booked_at", (claim_id,) if claim_id else ())
            return [tuple(row) for row in rows]


def _compact(iban: str) -> str:
    return "".join(iban.split()).upper()


def validity_code(iban: str) -> str | None:
    """AC01 for an IBAN that is not one (wrong check digits, length, country)."""
    try:
        IBAN(iban)
    except SchwiftyException:
        return "AC01"
    return None


def _result(outcome: PaymentOutcome, code: str | None, reference: str | None) -> PaymentResult:
    return PaymentResult(
        outcome=outcome,
        bank_reference=reference,
        return_code=code,
        detail=BANK_DETAIL_ERRORS.get(code or "", ""),
    )
