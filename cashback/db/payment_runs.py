"""Payment runs, their transfers and the bank files imported for them (R14, R16, D5)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from cashback.db.tables import (
    BankFile,
    Claim,
    Payment,
    PaymentRun,
    PaymentRunEntry,
    PaymentRunStatus,
    PaymentStatus,
)
from cashback.domain.status import ClaimStatus


class PaymentRunRepository:
    """Runs within the caller's transaction (never commits)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def due_orders(self, currency: str) -> list[Payment]:
        """The queued orders no run holds, oldest first, locked until the transaction ends."""
        return list(
            self._session.scalars(
                select(Payment)
                .where(
                    Payment.status == PaymentStatus.PENDING,
                    Payment.queued_at.is_not(None),
                    Payment.run_id.is_(None),
                    Payment.escalation_code.is_(None),
                    Payment.currency == currency,
                )
                .order_by(Payment.id)
                .with_for_update()
            )
        )

    def open_run(self, debtor_iban: str) -> PaymentRun | None:
        return self._session.scalar(
            select(PaymentRun).where(PaymentRun.open_account == debtor_iban)
        )

    def get(self, run_id: str, *, for_update: bool = False) -> PaymentRun | None:
        query = select(PaymentRun).where(PaymentRun.id == run_id)
        return self._session.scalar(query.with_for_update() if for_update else query)

    def by_message_id(self, message_id: str) -> PaymentRun | None:
        return self._session.scalar(select(PaymentRun).where(PaymentRun.message_id == message_id))

    def runs(self, limit: int = 100) -> list[PaymentRun]:
        return list(
            self._session.scalars(
                select(PaymentRun).order_by(PaymentRun.prepared_at.desc()).limit(limit)
            )
        )

    def entries(self, run_id: str) -> list[PaymentRunEntry]:
        return list(
            self._session.scalars(
                select(PaymentRunEntry)
                .where(PaymentRunEntry.run_id == run_id)
                .order_by(PaymentRunEntry.id)
            )
        )

    def released_entry(self, end_to_end_id: str) -> PaymentRunEntry | None:
        """The transfer of a released run with this EndToEndId, the latest run first (a
        transfer sent again after a transient refusal is in two runs)."""
        return self._session.scalar(
            select(PaymentRunEntry)
            .join(PaymentRun, PaymentRun.id == PaymentRunEntry.run_id)
            .where(
                PaymentRunEntry.end_to_end_id == end_to_end_id,
                PaymentRun.status == PaymentRunStatus.RELEASED,
            )
            .order_by(PaymentRunEntry.id.desc())
            .limit(1)
            .with_for_update()
        )

    def escalated(self) -> list[Payment]:
        return list(
            self._session.scalars(
                select(Payment)
                .where(
                    Payment.escalation_code.is_not(None), Payment.status == PaymentStatus.PENDING
                )
                .order_by(Payment.id)
            )
        )

    def returned_after_payment(self) -> list[Payment]:
        """Payments returned after they were paid whose claim did not take the return back: it
        still reads PAID with this payment's reference (R16: a claim that watched for returns
        is PAYMENT_FAILED, or paid again under another reference, once its workflow took it)."""
        return list(
            self._session.scalars(
                select(Payment)
                .join(Claim, Claim.id == Payment.claim_id)
                .where(
                    Payment.status == PaymentStatus.RETURNED,
                    Claim.status == ClaimStatus.PAID,
                    Claim.bank_reference == Payment.bank_reference,
                )
                .order_by(Payment.id)
            )
        )

    def bank_file(self, sha256: str) -> BankFile | None:
        return self._session.scalar(select(BankFile).where(BankFile.sha256 == sha256))
