"""The claim workflow's messages: its input, its output, its state, and the updates it takes.

Kept apart from workflows/claim.py so the API, the worker and the tests import them without the
workflow sandbox, and so the workflow module stays small (it is re-imported for every run).
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from activities.eligibility import ClaimVerdict
from activities.invoices import InvoiceRef
from activities.records import ClaimProjection
from cashback.domain.eligibility import ClaimedAgreement
from cashback.domain.money import Money
from cashback.domain.offers import DecisionPolicy, LicenceLimits, OfferCriteria
from cashback.domain.payout import BankDetailsJudgement, HolderType
from cashback.domain.policy import ProgramPolicy
from cashback.domain.reseller import ResellerSnapshot
from cashback.domain.status import ClaimStatus, NoticeKind


def claim_workflow_id(claim_id: str) -> str:
    """The workflow id derives from the claim, so Temporal refuses a second start (D2)."""
    return f"claim-{claim_id}"


class OfferSnapshot(BaseModel):
    """What the claim needs of its offer, frozen at submission (an edited offer does not change
    claims in flight)."""

    model_config = ConfigDict(frozen=True)

    offer_id: str
    name: str
    criteria: OfferCriteria
    limits: LicenceLimits
    rate_per_licence: Money
    terms_version: str
    # D8: claims submitted before the policy existed decode with today's behaviour.
    decision_policy: DecisionPolicy = DecisionPolicy.AT_THE_DEADLINE


class ClaimInput(BaseModel):
    """Everything the claim workflow needs, captured when the reseller submitted (R5, R6)."""

    model_config = ConfigDict(frozen=True)

    claim_id: str
    reseller: ResellerSnapshot
    offer: OfferSnapshot
    claimed: ClaimedAgreement
    invoice: InvoiceRef
    terms_accepted_version: str
    terms_accepted_at: AwareDatetime
    received_at: AwareDatetime
    policy: ProgramPolicy = Field(default_factory=ProgramPolicy)


class DecisionKind(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


class Decision(BaseModel):
    """An operator's decision on a claim under review (R8, R9), sent as an update.

    `licences` and `sale_date` let the operator complete what the licensing records could not
    tell (an agreement unknown to the records). `claim_id`, `issued_at` and `proof` are the
    program's signature for the signed-in operator (cashback/decisions.py); decisions recorded
    before they existed decode without them."""

    model_config = ConfigDict(frozen=True)

    kind: DecisionKind
    operator: str = Field(min_length=1)
    reasons: tuple[str, ...] = ()
    licences: int | None = Field(default=None, ge=1)
    sale_date: date | None = None
    claim_id: str | None = None
    issued_at: AwareDatetime | None = None
    proof: str | None = None


class PayeeDecisionKind(StrEnum):
    PAY_TO_THESE_DETAILS = "pay_to_these_details"
    ASK_FOR_OTHER_DETAILS = "ask_for_other_details"


class PayeeDecision(BaseModel):
    """An operator's decision on bank details whose payee the bank could not verify (VoP NOAP,
    issue 14, R11), sent as the `decide_payee` update: pay to them, or ask the reseller for
    other details (a correction request, R10). Signed for the operator like a `Decision`
    (cashback/decisions.py): `claim_id`, `issued_at` and `proof`."""

    model_config = ConfigDict(frozen=True)

    kind: PayeeDecisionKind
    operator: str = Field(min_length=1)
    reason: str = Field(default="", max_length=500)
    claim_id: str | None = None
    issued_at: AwareDatetime | None = None
    proof: str | None = None


class BankDetailsSubmission(BaseModel):
    """Bank details as the workflow sees them (R10-R13): a reference to the encrypted details,
    and only the facts needed to judge them. Invalid input is not repeated in errors."""

    model_config = ConfigDict(frozen=True, hide_input_in_errors=True)

    reference: str = Field(min_length=1)
    holder_type: HolderType
    holder_name: str = Field(min_length=1)


class PaymentReturn(BaseModel):
    """R16: the bank returned a paid transfer (a camt.054 return entry), as the import signals
    it to the claim: which payout (its EndToEndId, the idempotency key of D5), the ISO 20022
    reason and the bank's reference. No IBAN, no name: the history keeps none."""

    model_config = ConfigDict(frozen=True)

    idempotency_key: str = Field(min_length=1)
    return_code: str = Field(min_length=1, max_length=8)
    bank_reference: str | None = Field(default=None, max_length=128)


class PaymentEscalation(BaseModel):
    """R14, issue 14: the bank answered a payout ambiguously (MS03, FRAD, a code the program
    does not know), as the import signals it to the claim: which payout (its idempotency key,
    D5), the bank's status and its reason code. No IBAN, no name: the history keeps none."""

    model_config = ConfigDict(frozen=True)

    idempotency_key: str = Field(min_length=1)
    status: str = Field(min_length=1, max_length=8)
    reason_code: str | None = Field(default=None, max_length=8)

    @property
    def code(self) -> str:
        """The code the operators read: the reason, or the status when the bank gave none."""
        return self.reason_code or self.status


class SentNotice(BaseModel):
    kind: NoticeKind
    number: int
    sent_at: AwareDatetime
    respond_by: AwareDatetime | None = None


class ClaimState(BaseModel):
    """The claim as it stands: what the `state` query answers."""

    claim_id: str
    status: ClaimStatus = ClaimStatus.SUBMITTED
    waiting_for: str = ""
    received_on: date
    review_deadline: date | None = None
    verdict: ClaimVerdict | None = None
    escalated: bool = False
    awaiting_budget: bool = False  # D7: approved, but the budget cannot cover it (yet)
    awaiting_payee_decision: bool = False  # issue 14: VoP NOAP, waits for an operator
    # Issue 14: the bank answered the payout ambiguously: waits for the operators' answer.
    awaiting_payment_result: bool = False
    decision: Decision | None = None
    amount: Money | None = None
    final_confirmation_on: date | None = None
    respond_by: AwareDatetime | None = None
    notices: list[SentNotice] = Field(default_factory=list)
    bank_details_reference: str | None = None
    last_bank_details_judgement: BankDetailsJudgement | None = None
    payout_date: date | None = None
    payout_due: date | None = None
    payout_overdue: bool = False
    paid_on: date | None = None
    payment_reference: str | None = None
    bank_return_code: str | None = None
    outcome_reasons: list[str] = Field(default_factory=list)

    def projection(self) -> ClaimProjection:
        """What people read of this state (the read model on the claim's row)."""
        verdict = self.verdict.eligibility if self.verdict else None
        return ClaimProjection(
            status=self.status,
            review_deadline=self.review_deadline,
            verdict=verdict.verdict if verdict else None,
            verdict_reasons=verdict.reasons if verdict else (),
            eligible_licences=verdict.eligible_licences if verdict else None,
            escalated=self.escalated,
            awaiting_budget=self.awaiting_budget,
            awaiting_payee_decision=self.awaiting_payee_decision,
            awaiting_payment_result=self.awaiting_payment_result,
            decided_by=self.decision.operator if self.decision else None,
            amount=self.amount,
            final_confirmation_on=self.final_confirmation_on,
            respond_by=self.respond_by,
            payout_date=self.payout_date,
            payout_due=self.payout_due,
            payout_overdue=self.payout_overdue,
            paid_on=self.paid_on,
            bank_reference=self.payment_reference,
            bank_return_code=self.bank_return_code,
            outcome_reasons=tuple(self.outcome_reasons),
            bank_details_reference=self.bank_details_reference,
        )


class ClaimOutcome(BaseModel):
    """How a claim ended."""

    claim_id: str
    status: ClaimStatus
    amount: Money | None = None
    paid_on: date | None = None
    payment_reference: str | None = None
    forfeited: bool = False
    reasons: list[str] = Field(default_factory=list)
