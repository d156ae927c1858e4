"""A payment gateway for payment runs (R14, D5): each payment order is queued for the next SEPA
credit transfer file (`cashback.payment_runs`), and the activity completes when the bank's
answer to that file is imported. Wrapped by `RecordedGateway`, which writes the order row
once per idempotency key before this gateway is asked."""

from __future__ import annotations

from datetime import UTC, datetime

from activities.payments import PaymentOrder, PaymentResult
from cashback.db import Database, PaymentRepository
from cashback.domain.sepa import end_to_end_id


class PaymentRunQueue:
    def __init__(self, database: Database) -> None:
        self._database = database

    def pay(self, order: PaymentOrder) -> PaymentResult | None:
        """Queue the order once (a retried activity finds it queued, or in its run) and answer
        later: None."""
        with self._database.transaction() as session:
            payment = PaymentRepository(session).get(order.idempotency_key)
            if payment is None:
                raise LookupError(f"no payment {order.idempotency_key}: record it first")
            if payment.queued_at is None:
                payment.end_to_end_id = end_to_end_id(order.idempotency_key)
                payment.queued_at = datetime.now(UTC)
        return None
