"""Who receives which notice (R9, R14) and the statuses and notices by their wire values: what
histories, the database and e-mails of claims in flight hold."""

from __future__ import annotations

from cashback.domain.status import RELEASES_AGREEMENT, ClaimStatus, NoticeKind


def test_r9_r14_d7_only_escalations_overdue_payouts_and_budget_shortfalls_go_to_operators() -> None:
    """R9: an escalation, R14: a payout past the 45 days, D7: an approval the budget cannot
    cover; every other notice is the reseller's."""
    assert {kind for kind in NoticeKind if kind.for_operators} == {
        NoticeKind.OPERATOR_ESCALATION,
        NoticeKind.PAYOUT_OVERDUE,
        NoticeKind.BUDGET_SHORTFALL,
    }


def test_r10_r11_r16_the_notices_that_ask_for_bank_details() -> None:
    assert {kind for kind in NoticeKind if kind.asks_for_bank_details} == {
        NoticeKind.BANK_DETAILS_REQUEST,
        NoticeKind.CORRECTION_REQUEST,
        NoticeKind.PAYMENT_FAILURE,
    }


def test_r8_r12_r14_the_final_statuses() -> None:
    assert {status for status in ClaimStatus if status.is_final} == {
        ClaimStatus.REJECTED,
        ClaimStatus.PAID,
        ClaimStatus.CANCELLED,
    }


def test_d1_rejected_and_cancelled_claims_release_the_agreement() -> None:
    assert set(RELEASES_AGREEMENT) == {ClaimStatus.REJECTED, ClaimStatus.CANCELLED}


def test_d3_statuses_and_notices_keep_their_wire_values() -> None:
    """Stored in histories, rows and search attributes: a renamed value strands claims."""
    assert [status.value for status in ClaimStatus] == [
        "SUBMITTED",
        "UNDER_REVIEW",
        "REJECTED",
        "AWAITING_BANK_DETAILS",
        "SCHEDULED_FOR_PAYMENT",
        "PAYMENT_FAILED",
        "PAID",
        "CANCELLED",
    ]
    assert [kind.value for kind in NoticeKind] == [
        "preliminary_confirmation",
        "final_confirmation",
        "rejection",
        "bank_details_request",
        "correction_request",
        "payment_failure",
        "cancellation",
        "remittance_advice",
        "operator_escalation",
        "payout_overdue",
        "budget_shortfall",
    ]
