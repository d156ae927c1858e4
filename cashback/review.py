"""Operators' actions on a claim as application services: a decision (R8, R9) sent to the
claim's workflow signed for the operator who made it (D3), a decision on a payee the bank could
not verify (VoP NOAP, issue 14), and the operators' answer to a payment of a released run, above
all one the bank answered ambiguously (R14, R16). The routes only read the request and shape the
answer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from anyio import to_thread
from sqlalchemy.orm import Session
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import FailureError
from temporalio.service import RPCError, RPCStatusCode

from activities.payments import PaymentOutcome, PaymentResult
from cashback.bank.simulated import BANK_DETAIL_ERRORS
from cashback.claims import ClaimState, Decision, DecisionKind, PayeeDecision, PayeeDecisionKind
from cashback.db import Database, PaymentRepository
from cashback.db.tables import Claim, Payment, PaymentRun, PaymentRunStatus, PaymentStatus
from cashback.decisions import DecisionKey
from cashback.domain.status import ClaimStatus
from cashback.refusals import Refused

ACCEPTED_CODES = frozenset({"ACCP", "ACSC", "ACSP"})  # ISO 20022: accepted / settled


class ActionRefused(Refused):
    """The action was not taken: a stable code and a sentence saying why; `unavailable` when
    a service did not answer (try again)."""

    def __init__(self, code: str, detail: str, *, unavailable: bool = False) -> None:
        super().__init__(code, detail)
        self.unavailable = unavailable


@dataclass(frozen=True)
class DecisionMade:
    kind: DecisionKind
    reasons: tuple[str, ...] = ()
    licences: int | None = None
    sale_date: date | None = None


async def decide(
    temporal: Client, key: DecisionKey, claim: Claim, operator: str, decision: DecisionMade
) -> ClaimState:
    """R8, R9, D3: the decision goes to the claim's workflow as the `decide` update, signed for
    `operator` (a verified account); the workflow's validator has the last word. Raises
    `ActionRefused`."""
    signed = key.sign(
        Decision(
            kind=decision.kind,
            operator=operator,
            reasons=decision.reasons,
            licences=decision.licences,
            sale_date=decision.sale_date,
        ),
        claim_id=claim.id,
        operator=operator,
        issued_at=datetime.now(UTC),
    )
    # A finished workflow takes no updates, so its validator cannot answer for it.
    finished = (
        f"the claim's workflow {claim.workflow_id} is not running"
        if claim.status is ClaimStatus.UNDER_REVIEW
        else f"the claim is not under review (status {claim.status.value})"
    )
    return await _update(temporal, claim, "decide", signed, "decision_refused", finished)


async def decide_payee(
    temporal: Client,
    key: DecisionKey,
    claim: Claim,
    operator: str,
    kind: PayeeDecisionKind,
    reason: str = "",
) -> ClaimState:
    """Issue 14, R11: on bank details whose payee the bank could not verify (VoP NOAP), pay to
    them or ask the reseller for other ones: the `decide_payee` update, signed for `operator`
    (a verified account, D3); the workflow's validator has the last word. Raises
    `ActionRefused`."""
    signed = key.sign(
        PayeeDecision(kind=kind, operator=operator, reason=reason),
        claim_id=claim.id,
        operator=operator,
        issued_at=datetime.now(UTC),
    )
    finished = (
        "the claim does not wait for a decision on its payee "
        f"(status {claim.status.value}; its workflow is not running)"
    )
    return await _update(
        temporal, claim, "decide_payee", signed, "payee_decision_refused", finished
    )


async def _update(
    temporal: Client,
    claim: Claim,
    update: str,
    argument: Decision | PayeeDecision,
    refused_code: str,
    finished: str,
) -> ClaimState:
    """Send a signed decision as the workflow's `update`; `finished` says why a workflow that
    is not running cannot take it. Raises `ActionRefused`."""
    handle = temporal.get_workflow_handle(claim.workflow_id)
    try:
        state: ClaimState = await handle.execute_update(update, argument, result_type=ClaimState)
    except WorkflowUpdateFailedError as error:
        cause = error.cause
        why = cause.message if isinstance(cause, FailureError) else str(cause)
        raise ActionRefused(refused_code, why) from error
    except RPCError as error:
        if error.status is not RPCStatusCode.NOT_FOUND:
            raise ActionRefused(
                "temporal_unavailable",
                "the workflow service did not answer; try again",
                unavailable=True,
            ) from error
        raise ActionRefused(refused_code, finished) from error
    return state


@dataclass(frozen=True)
class PaymentAnswered:
    idempotency_key: str
    outcome: PaymentOutcome


def bank_answer(return_code: str, bank_reference: str | None) -> PaymentResult:
    """R14, R16: what an ISO 20022 code means for the payment: paid, or rejected for
    bank-detail reasons. Raises `ActionRefused` for any other code."""
    if return_code in ACCEPTED_CODES:
        return PaymentResult(
            outcome=PaymentOutcome.PAID, bank_reference=bank_reference or return_code
        )
    if return_code in BANK_DETAIL_ERRORS:
        return PaymentResult(
            outcome=PaymentOutcome.REJECTED,
            return_code=return_code,
            detail=BANK_DETAIL_ERRORS[return_code],
        )
    known = ", ".join(sorted(ACCEPTED_CODES | set(BANK_DETAIL_ERRORS)))
    raise ActionRefused("unknown_return_code", f"{return_code} is not one of {known}")


async def enter_payment_result(
    database: Database, temporal: Client, claim_id: str, result: PaymentResult, operator: str
) -> PaymentAnswered:
    """R14, R16: the operators' answer to the claim's pending payment of a released run (one
    the bank answered ambiguously, above all) completes the payment activity waiting for it,
    and is recorded; the claim's timeline names `operator` (the signed-in operator, D3) as who
    entered it. Raises `ActionRefused`."""
    result = result.model_copy(update={"entered_by": operator})

    def pending() -> tuple[str, bytes] | None:
        with database.reading() as session:
            waiting = [
                p
                for p in PaymentRepository(session).of_claim(claim_id)
                if p.status is PaymentStatus.PENDING and p.task_token is not None
            ]
            if not waiting:
                return None
            payment = waiting[-1]
            if not _sent(session, payment):
                raise ActionRefused(
                    "payment_not_sent",
                    "the payment waits for a payment run and has not gone to the bank; "
                    "prepare and release a run (no answer can be entered before)",
                )
            assert payment.task_token is not None
            return payment.idempotency_key, payment.task_token

    found = await to_thread.run_sync(pending)
    if found is None:
        raise ActionRefused("no_pending_payment", "no payment of this claim waits for an answer")
    key, task_token = found
    try:
        await temporal.get_async_activity_handle(task_token=task_token).complete(result)
    except RPCError as error:
        raise ActionRefused(
            "payment_not_waiting", "the payment no longer waits for this answer"
        ) from error

    def record() -> None:
        status = (
            PaymentStatus.PAID if result.outcome is PaymentOutcome.PAID else PaymentStatus.REJECTED
        )
        with database.transaction() as session:
            PaymentRepository(session).record_answer(
                key, status, bank_reference=result.bank_reference, return_code=result.return_code
            )

    await to_thread.run_sync(record)
    return PaymentAnswered(idempotency_key=key, outcome=result.outcome)


def _sent(session: Session, payment: Payment) -> bool:
    """Whether the bank can have answered: a payment of a payment run only once its run was
    released (or the bank's answer was escalated to the operators); every other gateway's
    order went out when it was made."""
    if payment.queued_at is None or payment.escalation_code is not None:
        return True
    if payment.run_id is None:
        return False
    run = session.get(PaymentRun, payment.run_id)
    return run is not None and run.status is PaymentRunStatus.RELEASED
