"""The claim's statuses and the notices the program sends (DOMAIN.md, lifecycle)."""

from __future__ import annotations

from enum import StrEnum


class ClaimStatus(StrEnum):
    SUBMITTED = "SUBMITTED"
    UNDER_REVIEW = "UNDER_REVIEW"
    REJECTED = "REJECTED"
    AWAITING_BANK_DETAILS = "AWAITING_BANK_DETAILS"
    SCHEDULED_FOR_PAYMENT = "SCHEDULED_FOR_PAYMENT"
    PAYMENT_FAILED = "PAYMENT_FAILED"
    PAID = "PAID"
    CANCELLED = "CANCELLED"

    @property
    def is_final(self) -> bool:
        return self in {ClaimStatus.REJECTED, ClaimStatus.PAID, ClaimStatus.CANCELLED}


class NoticeKind(StrEnum):
    """Every e-mail the program sends about a claim."""

    PRELIMINARY_CONFIRMATION = "preliminary_confirmation"  # R7
    FINAL_CONFIRMATION = "final_confirmation"  # R9, starts the 45-day clock of R14
    REJECTION = "rejection"  # R8, R9
    BANK_DETAILS_REQUEST = "bank_details_request"  # R10, R13
    CORRECTION_REQUEST = "correction_request"  # R11 (counts as a notification, R10)
    PAYMENT_FAILURE = "payment_failure"  # R16
    CANCELLATION = "cancellation"  # R10, R12, R16
    REMITTANCE_ADVICE = "remittance_advice"  # R14
    OPERATOR_ESCALATION = "operator_escalation"  # R9: deadline without a conclusive verdict
    PAYOUT_OVERDUE = "payout_overdue"  # R14: the 45-day bound is or will be missed
    BUDGET_SHORTFALL = "budget_shortfall"  # D7: the offer's budget cannot cover an approval

    @property
    def for_operators(self) -> bool:
        """Sent to the program's operators, not to the reseller."""
        return self in {
            NoticeKind.OPERATOR_ESCALATION,
            NoticeKind.PAYOUT_OVERDUE,
            NoticeKind.BUDGET_SHORTFALL,
        }

    @property
    def asks_for_bank_details(self) -> bool:
        """A notification in the sense of R10/R16: the reseller must act within the window."""
        return self in {
            NoticeKind.BANK_DETAILS_REQUEST,
            NoticeKind.CORRECTION_REQUEST,
            NoticeKind.PAYMENT_FAILURE,
        }


# D1: a rejected or cancelled claim does not block a new claim for its offer and agreement.
RELEASES_AGREEMENT = (ClaimStatus.REJECTED, ClaimStatus.CANCELLED)
