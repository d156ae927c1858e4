"""Payout orders and the bank's answers (R14, R16, D5)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from cashback.db.statements import insert_unless_present
from cashback.db.tables import BankAccount, Payment, PaymentStatus
from cashback.domain.money import Money


class PaymentRepository:
    """Payments within the caller's transaction (never commits)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def get(self, idempotency_key: str) -> Payment | None:
        return self._session.scalar(
            select(Payment).where(Payment.idempotency_key == idempotency_key)
        )

    def order(
        self, idempotency_key: str, claim_id: str, amount: Money, bank_details_ref: str
    ) -> Payment:
        """D5: the payment of `idempotency_key`, created as pending unless it exists (a known key
        returns the first payment, whatever the other arguments say)."""
        insert_unless_present(
            self._session,
            Payment,
            {
                "idempotency_key": idempotency_key,
                "claim_id": claim_id,
                "amount_minor_units": amount.minor_units,
                "currency": amount.currency,
                "bank_details_ref": bank_details_ref,
                "status": PaymentStatus.PENDING,
                "ordered_at": datetime.now(UTC),
            },
            keys=("idempotency_key",),
        )
        payment = self.get(idempotency_key)
        assert payment is not None
        return payment

    def record_answer(
        self,
        idempotency_key: str,
        status: PaymentStatus,
        *,
        bank_reference: str | None = None,
        return_code: str | None = None,
    ) -> Payment:
        """The bank's answer to a pending payment; an answered payment keeps its first answer."""
        payment = self.get(idempotency_key)
        if payment is None:
            raise LookupError(f"no payment {idempotency_key}")
        if payment.status is PaymentStatus.PENDING and status is not PaymentStatus.PENDING:
            payment.status = status
            payment.bank_reference = bank_reference
            payment.return_code = return_code
            payment.answered_at = datetime.now(UTC)
        return payment

    def masked_iban_paid(self, claim_id: str) -> str | None:
        """R14: the masked IBAN of the account the claim was paid to, None before it is paid."""
        return self._session.scalar(
            select(BankAccount.masked_iban)
            .join(Payment, Payment.bank_details_ref == BankAccount.reference)
            .where(Payment.claim_id == claim_id, Payment.status == PaymentStatus.PAID)
            .order_by(Payment.id.desc())
            .limit(1)
        )

    def of_claim(self, claim_id: str) -> list[Payment]:
        return list(
            self._session.scalars(
                select(Payment).where(Payment.claim_id == claim_id).order_by(Payment.id)
            )
        )
