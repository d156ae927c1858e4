"""Payouts through the payment gateway (R14, R16, D5).

The idempotency key derives from the claim and the payout attempt, so a retried activity, or a
worker that died after the bank accepted, can never pay twice: the gateway answers a known key
with the first payment. A rejection for bank-detail reasons (ISO 20022 codes such as AC01, AC04,
AC06, BE01) is a result, driving R16; a transient failure (AB05, AB06, TECH) is an exception,
retried by Temporal and never counted as a notice.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field
from temporalio import activity
from temporalio.common import RetryPolicy

from cashback.domain.money import Money

# The timeout is the policy's `bank_answer_within` (days for payment runs at a real bank).
# Transient bank failures are retried for as long as it takes; the 45-day bound (R14) is
# watched by the workflow, not by giving up here.
RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=10),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(hours=1),
    non_retryable_error_types=["InvalidPaymentOrder"],
)


def payout_idempotency_key(claim_id: str, attempt: int) -> str:
    """D5: one key per claim and payout attempt; a new attempt only follows a rejection."""
    return f"cashback/{claim_id}/payout/{attempt}"


class PaymentOrder(BaseModel):
    model_config = ConfigDict(frozen=True)

    idempotency_key: str
    claim_id: str
    amount: Money
    bank_details_ref: str = Field(description="reference to the encrypted bank details")
    remittance_information: str


class PaymentOutcome(StrEnum):
    PAID = "paid"
    REJECTED = "rejected"  # for bank-detail reasons: R16


class PaymentResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    outcome: PaymentOutcome
    bank_reference: str | None = None
    return_code: str | None = Field(default=None, description="ISO 20022 reason code")
    detail: str = ""
    # D3: the signed-in operator who entered this answer (an escalated payment, above all), as
    # the API's bearer token says; None for the bank's own answer. The timeline's actor.
    entered_by: str | None = None


class TransientBankError(Exception):
    """The bank could not answer now (timeout, technical problem): retry later."""


class PaymentGateway(Protocol):
    def pay(self, order: PaymentOrder) -> PaymentResult | None:
        """Transfer once per idempotency key; a known key returns the first result. Raises
        TransientBankError when the bank could not answer. None: the order went out (a file
        exchange) and the bank's answer comes later, entered by an operator."""
        ...


class PendingAnswers(Protocol):
    def await_answer(self, idempotency_key: str, task_token: bytes) -> None:
        """Remember which activity waits for the answer to the payment `idempotency_key`."""
        ...


class PaymentActivities:
    def __init__(self, gateway: PaymentGateway, pending: PendingAnswers | None = None) -> None:
        self._gateway = gateway
        self._pending = pending

    @activity.defn(name="payments.pay")
    def pay(self, order: PaymentOrder) -> PaymentResult:
        """R14, D5: pay the claim's cash back, at most once per idempotency key. With a file
        exchange the activity completes when an operator enters the bank's answer."""
        result = self._gateway.pay(order)
        if result is not None:
            return result
        if self._pending is None:
            raise RuntimeError("the gateway answers later, but nothing records who waits")
        self._pending.await_answer(order.idempotency_key, activity.info().task_token)
        activity.raise_complete_async()
