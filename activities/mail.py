"""E-mail to the reseller and to the program's operators (R7, R9, R10, R11, R13, R14, R16, R17).

Sending is idempotent per (claim, notice kind, number): the outbox remembers what it sent, so a
retried activity never sends the same notice twice. The memory is written after the SMTP server
took the message, and rides out a database failure of up to 20 s in place
(`cashback.db.notices.RECORD_WITHIN_SECONDS`); only a longer one makes the retry send again,
with the same Message-ID, so that a notice is never lost (tests/faults/test_database_faults.py).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Protocol

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from temporalio import activity
from temporalio.common import RetryPolicy

from cashback.domain.money import Money
from cashback.domain.payee import PayeeAnswer
from cashback.domain.program_time import ProgramClock
from cashback.domain.reseller import ResellerSnapshot
from cashback.domain.status import NoticeKind

# The error type of a notice that can never be delivered (a permanent 5xx for the recipient):
# not retried; the workflow records it and tells the operators.
UNDELIVERABLE = "InvalidNotice"
TIMEOUT = timedelta(minutes=1)
RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    maximum_interval=timedelta(minutes=10),
    non_retryable_error_types=[UNDELIVERABLE],
)


class NoticeFacts(BaseModel):
    """What a notice may tell; each template uses the fields of its kind."""

    model_config = ConfigDict(frozen=True)

    agreement_number: str
    offer_name: str
    amount: Money | None = None
    reasons: tuple[str, ...] = ()
    review_deadline: date | None = None
    payout_date: date | None = None
    payment_reference: str | None = None
    bank_return_code: str | None = None
    # Issue 14, R11: the bank's Verification of Payee answer a correction request tells (the
    # code and, for a close match, the name the bank holds; never the IBAN).
    payee_answer: PayeeAnswer | None = None
    # Issue 14, R14: the code of the bank's ambiguous answer to the payout (MS03, FRAD...) that
    # an operator escalation asks the operators to answer; never the IBAN.
    payment_escalation: str | None = None
    # an e-mail to the reseller the mail server refused (its kind and number): the operators'
    # escalation says so instead of the review window's words
    undelivered_notice: str | None = None


class NoticeRequest(BaseModel):
    model_config = ConfigDict(frozen=True)

    claim_id: str
    kind: NoticeKind
    number: int = Field(
        default=1, ge=1, description="how many notices of this kind the claim has had, this one too"
    )
    notification: int | None = Field(
        default=None, ge=1, description="R10, R16: place in its series of notifications (2 of 3)"
    )
    notifications_allowed: int | None = Field(
        default=None, ge=1, description="R10, R16: notifications before the claim is cancelled"
    )
    reseller: ResellerSnapshot
    respond_by: AwareDatetime | None = Field(
        default=None, description="R10: the reseller must act by then; a secure link expires then"
    )
    facts: NoticeFacts
    program_clock: ProgramClock | None = Field(
        default=None,
        description="the claim's program clock: the mail shows `respond_by` on it (a demo runs "
        "faster); a wall-clock instant still, for the link's expiry and the timer",
    )

    @property
    def idempotency_key(self) -> str:
        return f"{self.claim_id}/{self.kind.value}/{self.number}"


class NoticeReceipt(BaseModel):
    model_config = ConfigDict(frozen=True)

    message_id: str
    sent_at: AwareDatetime


class NoticeLog(Protocol):
    """What the outbox has sent, so that a retried activity does not send it again; the
    database keeps it (table of notices sent, unique on the idempotency key)."""

    def receipt_for(self, idempotency_key: str) -> NoticeReceipt | None:
        """The receipt of the notice sent under `idempotency_key`, or None."""
        ...

    def record(self, notice: NoticeRequest, receipt: NoticeReceipt) -> None:
        """Remember that `notice` was sent; a second call for the same key changes nothing."""
        ...


class Outbox(Protocol):
    def send(self, notice: NoticeRequest) -> NoticeReceipt:
        """Render and send `notice` once; a second call with the same idempotency key returns the
        first receipt without sending."""
        ...


class MailActivities:
    def __init__(self, outbox: Outbox) -> None:
        self._outbox = outbox

    @activity.defn(name="mail.send_notice")
    def send_notice(self, notice: NoticeRequest) -> NoticeReceipt:
        """Send one notice to the reseller, or to the operators for operator notices."""
        return self._outbox.send(notice)
