"""The claim's timeline (D3): every status change and every notable event, recorded by the
workflow through this activity. The database implementation is idempotent on
(claim_id, sequence), so a retried activity never writes an entry twice."""

from __future__ import annotations

from datetime import date, timedelta
from enum import StrEnum
from typing import Protocol

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from temporalio import activity
from temporalio.common import RetryPolicy

from cashback.domain.eligibility import Reason, Verdict
from cashback.domain.money import Money
from cashback.domain.status import ClaimStatus

TIMEOUT = timedelta(seconds=30)
RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(minutes=5),
    non_retryable_error_types=["InvalidTimelineEntry"],
)


class TimelineEvent(StrEnum):
    STATUS_CHANGED = "status_changed"
    REVIEW_ESCALATED = "review_escalated"  # R9: deadline without a conclusive verdict
    BANK_DETAILS_RECEIVED = "bank_details_received"  # R10-R12, with the judgement
    PAYMENT_REJECTED = "payment_rejected"  # R16, with the bank's return code
    PAYMENT_RETURNED = "payment_returned"  # R16: a paid transfer came back, with its code
    PAYOUT_OVERDUE = "payout_overdue"  # R14: the 45-day bound is or will be missed
    NOTICE_UNDELIVERABLE = "notice_undeliverable"  # the operators are told instead
    BUDGET_SHORT = "budget_short"  # D7: the offer's budget cannot cover an approval
    PAYEE_VERIFIED = "payee_verified"  # issue 14, R11: the bank's VoP answer, never the IBAN
    PAYEE_ESCALATED = "payee_escalated"  # VoP NOAP: the operators decide
    PAYEE_DECIDED = "payee_decided"  # an operator's decision on the payee after NOAP
    PAYMENT_ESCALATED = "payment_escalated"  # issue 14: the bank answered ambiguously

    @property
    def for_operators(self) -> bool:
        """Shown to the operators only: the program's budget is not the reseller's business,
        nor is what the bank suspects of a transfer (FRAD) before the operators looked at it."""
        return self in (TimelineEvent.BUDGET_SHORT, TimelineEvent.PAYMENT_ESCALATED)


class ClaimProjection(BaseModel):
    """What people read about a claim, as its workflow knows it when it records a timeline
    entry: the database keeps it on the claim's row (the read model), in the entry's
    transaction, and every page and list reads it there, never from the workflow."""

    model_config = ConfigDict(frozen=True)

    status: ClaimStatus
    review_deadline: date | None = None
    verdict: Verdict | None = None
    verdict_reasons: tuple[Reason, ...] = ()
    eligible_licences: int | None = None
    escalated: bool = False
    # D7: approved, but the offer's budget cannot cover it: waits for a top-up or a decision.
    awaiting_budget: bool = False
    # Issue 14: the bank could not verify the payee (VoP NOAP): waits for an operator.
    awaiting_payee_decision: bool = False
    # Issue 14: the bank answered the payout ambiguously (MS03, FRAD...): waits for the
    # operators' answer (POST /operator/claims/{id}/payment-result).
    awaiting_payment_result: bool = False
    decided_by: str | None = None
    amount: Money | None = None
    final_confirmation_on: date | None = None
    respond_by: AwareDatetime | None = None
    payout_date: date | None = None
    payout_due: date | None = None
    payout_overdue: bool = False
    paid_on: date | None = None
    bank_reference: str | None = None
    bank_return_code: str | None = None
    outcome_reasons: tuple[str, ...] = ()
    # The encrypted bank details on file (a reference, never the details): the secure page
    # offers to confirm them.
    bank_details_reference: str | None = None


class TimelineEntry(BaseModel):
    """One line of a claim's timeline (D3): time, actor, from/to status, reason."""

    model_config = ConfigDict(frozen=True)

    claim_id: str
    sequence: int = Field(ge=1, description="position in the claim's timeline; idempotency key")
    at: AwareDatetime
    actor: str = Field(description="'system', 'reseller' or the operator's name")
    event: TimelineEvent
    from_status: ClaimStatus | None = None
    to_status: ClaimStatus | None = None
    reason: str = ""
    amount: Money | None = Field(default=None, description="the claim's amount, once approved")
    projection: ClaimProjection | None = Field(
        default=None, description="the claim as it stands after this entry (the read model)"
    )


class Timeline(Protocol):
    def append(self, entry: TimelineEntry) -> None:
        """Store `entry` unless an entry with its (claim_id, sequence) is already stored."""
        ...


class RecordsActivities:
    def __init__(self, timeline: Timeline) -> None:
        self._timeline = timeline

    @activity.defn(name="records.append_timeline")
    def append_timeline(self, entry: TimelineEntry) -> None:
        """D3: record one timeline entry (idempotent)."""
        self._timeline.append(entry)
