"""The payments table (R14, R16, D5) kept in step with the payment gateway: every order is
written before the bank is asked, and the bank's answer after it."""

from __future__ import annotations

from activities.payments import PaymentGateway, PaymentOrder, PaymentOutcome, PaymentResult
from cashback.db import Database, PaymentRepository
from cashback.db.tables import PaymentStatus


class RecordedGateway:
    """A PaymentGateway that records orders and answers in the database around another one."""

    def __init__(self, gateway: PaymentGateway, database: Database) -> None:
        self._gateway = gateway
        self._database = database

    def pay(self, order: PaymentOrder) -> PaymentResult | None:
        with self._database.transaction() as session:
            payment = PaymentRepository(session).order(
                order.idempotency_key, order.claim_id, order.amount, order.bank_details_ref
            )
            if payment.status is not PaymentStatus.PENDING:  # answered before: D5
                return PaymentResult(
                    outcome=PaymentOutcome.PAID
                    if payment.status is PaymentStatus.PAID
                    else PaymentOutcome.REJECTED,
                    bank_reference=payment.bank_reference,
                    return_code=payment.return_code,
                )
        result = self._gateway.pay(order)
        if result is None:
            return None  # the bank answers later (a payment run)
        status = (
            PaymentStatus.PAID if result.outcome is PaymentOutcome.PAID else PaymentStatus.REJECTED
        )
        with self._database.transaction() as session:
            PaymentRepository(session).record_answer(
                order.idempotency_key,
                status,
                bank_reference=result.bank_reference,
                return_code=result.return_code,
            )
        return result

    def await_answer(self, idempotency_key: str, task_token: bytes) -> None:
        """The activity that waits for the bank's answer to this payment."""
        with self._database.transaction() as session:
            payment = PaymentRepository(session).get(idempotency_key)
            if payment is None:
                raise LookupError(f"no payment {idempotency_key}")
            payment.task_token = task_token
