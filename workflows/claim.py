"""The claim lifecycle (DOMAIN.md): one durable workflow per claim.

SUBMITTED -> UNDER_REVIEW -> (REJECTED | AWAITING_BANK_DETAILS) -> SCHEDULED_FOR_PAYMENT
-> (PAID | PAYMENT_FAILED -> ...), and CANCELLED from the bank-details loops.

The workflow decides and waits; activities do. Calendar-dependent dates come from an activity
(so replays keep them), everything else is read from the rules in cashback/domain.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities import (
        bank_details,
        budgets,
        calendar,
        eligibility,
        invoices,
        mail,
        payee,
        payments,
        records,
    )
    from activities.bank_details import BankDetailsActivities
    from activities.budgets import BudgetActivities, BudgetAnswer, BudgetRequest
    from activities.calendar import CalendarActivities, ReviewDeadlineRequest
    from activities.eligibility import (
        ApprovedLicences,
        ClaimVerdict,
        EligibilityActivities,
        EligibilityRequest,
    )
    from activities.invoices import InvoiceActivities
    from activities.mail import MailActivities, NoticeFacts, NoticeRequest
    from activities.payee import PayeeActivities, PayeeCheck
    from activities.payments import (
        PaymentActivities,
        PaymentOrder,
        PaymentOutcome,
        payout_idempotency_key,
    )
    from activities.records import RecordsActivities, TimelineEntry, TimelineEvent
    from cashback import decisions
    from cashback import search_attributes as attrs
    from cashback.claims import (
        BankDetailsSubmission,
        ClaimInput,
        ClaimOutcome,
        ClaimState,
        Decision,
        DecisionKind,
        PayeeDecision,
        PayeeDecisionKind,
        PaymentEscalation,
        PaymentReturn,
        SentNotice,
    )
    from cashback.domain.eligibility import Verdict, sold_by_another
    from cashback.domain.money import Money, cashback_amount
    from cashback.domain.offers import DecisionPolicy
    from cashback.domain.payee import PayeeAnswer, PayeeStep
    from cashback.domain.payout import (
        BankDetailsJudgement,
        judge_bank_details,
        payout_date,
        payout_due,
    )
    from cashback.domain.program_time import ProgramClock
    from cashback.domain.sepa import reason_text
    from cashback.domain.status import ClaimStatus, NoticeKind

A = TypeVar("A")  # an activity method's argument
R = TypeVar("R")  # and its result

SYSTEM = "system"
RESELLER = "reseller"

# Workflow changes that alter the commands of running claims are patched (docs/workflow-changes.md).
STANDING_CONFIRMATION = "standing-confirmation-of-bank-details"
APPROVED_LICENCES_HELD = "approved-licences-held"
SEARCH_ATTRIBUTES_ON_THE_DAY = "search-attributes-on-the-day"
PROGRAM_DAYS = "program-days"
OFFER_BUDGETS = "offer-budgets"
STRAIGHT_THROUGH = "straight-through-decisions"
LOCAL_TIMELINE = "timeline-as-local-activity"
LOCAL_NOTICES = "notices-as-local-activity"
RETURNS_AFTER_PAID = "returns-after-paid"
VERIFICATION_OF_PAYEE = "verification-of-payee"
PAYMENT_ESCALATION = "payment-escalation"


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _end_of(day: date) -> datetime:
    return _start_of(day + timedelta(days=1))


class _NoticeLoop:
    """One series of notifications that ask for bank details (R10, or R16 after a failed
    payment): at most `policy.max_notices` of them, shared by every turn of the series."""

    def __init__(self, first_kind: NoticeKind, status: ClaimStatus, rule: str) -> None:
        self.first_kind = first_kind
        self.status = status
        self.rule = rule
        self.sent = 0


@workflow.defn(name="Claim")
class ClaimWorkflow:
    @workflow.init
    def __init__(self, claim: ClaimInput) -> None:
        self._claim = claim
        self._policy = claim.policy
        self._clock = ProgramClock(origin=claim.received_at, time_scale=claim.policy.time_scale)
        self._state = ClaimState(claim_id=claim.claim_id, received_on=claim.received_at.date())
        self._timeline_sequence = 0
        self._sent_per_kind: dict[NoticeKind, int] = {}
        self._decision: Decision | None = None
        self._decided_at_once = False  # D8: by the offer's straight-through policy
        self._budget_committed = False  # D7: this claim's approval holds part of the budget
        self._budget_topped_up = False  # D7: a top-up arrived while the claim waited for one
        self._budget_consumed = False  # D7: the payout consumed the commitment
        # R16: the payout whose return the claim takes: the one in flight, then while watched.
        self._returns_taken_for: str | None = None
        self._returned: PaymentReturn | None = None  # R16: the bank returned that payout
        self._paying: str | None = None  # R14: the payout whose answer the claim waits for
        self._escalated_payout: str | None = None  # issue 14: the one the operators answer
        self._accepting_bank_details = False
        self._bank_details: BankDetailsSubmission | None = None
        self._payee_decision: PayeeDecision | None = None  # VoP NOAP: an operator's decision
        self._sale_date: date | None = None
        self._payout_attempt = 1
        self._days_on_the_day = False
        self._program_days = False
        self._local_timeline = False
        self._local_notices = False
        self._payment_failures = _NoticeLoop(
            NoticeKind.PAYMENT_FAILURE, ClaimStatus.PAYMENT_FAILED, "R16"
        )

    # ---- the lifecycle -------------------------------------------------------------------

    @workflow.run
    async def run(self, claim: ClaimInput) -> ClaimOutcome:
        # Decided once, before any activity: a claim keeps the way it shows its days.
        self._days_on_the_day = workflow.patched(SEARCH_ATTRIBUTES_ON_THE_DAY)
        self._program_days = workflow.patched(PROGRAM_DAYS)
        # Decided once too: a claim writes its whole timeline one way (issue 16).
        self._local_timeline = workflow.patched(LOCAL_TIMELINE)
        # And its notices, all of them one way too (issue 16, part 1).
        self._local_notices = workflow.patched(LOCAL_NOTICES)
        workflow.upsert_search_attributes(
            [
                attrs.CLAIM_STATUS.value_set(ClaimStatus.SUBMITTED),
                attrs.RESELLER_ID.value_set(claim.reseller.reseller_id),
                attrs.OFFER_ID.value_set(claim.offer.offer_id),
                attrs.AGREEMENT_NUMBER.value_set(claim.claimed.agreement_number),
            ]
        )
        await self._record(
            TimelineEvent.STATUS_CHANGED,
            actor=RESELLER,
            to_status=ClaimStatus.SUBMITTED,
            reason=f"claim received; terms {claim.terms_accepted_version} accepted (R5, R6)",
        )
        if await self._submission_is_complete() and await self._review():
            details = await self._collect_bank_details(
                _NoticeLoop(
                    NoticeKind.BANK_DETAILS_REQUEST, ClaimStatus.AWAITING_BANK_DETAILS, "R10"
                )
            )
            if details is not None:
                await self._pay_out()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._outcome()

    async def _submission_is_complete(self) -> bool:
        """R5: the invoice is stored as received; then R7: the preliminary confirmation, which
        names the review deadline (R9)."""
        check = await workflow.execute_activity_method(
            InvoiceActivities.check_invoice,
            self._claim.invoice,
            start_to_close_timeout=invoices.TIMEOUT,
            retry_policy=invoices.RETRY,
            summary="R5: invoice stored and intact?",
        )
        if not check.is_intact:
            reason = "R5: the customer invoice is missing or was altered after submission"
            self._state.outcome_reasons.append(reason)
            await self._set_status(ClaimStatus.REJECTED, SYSTEM, reason)
            await self._notify(NoticeKind.REJECTION, reasons=(reason,))
            return False
        deadline = await workflow.execute_local_activity_method(
            CalendarActivities.review_deadline,
            ReviewDeadlineRequest(
                received_on=self._state.received_on,
                country=self._claim.reseller.country,
                business_days=self._policy.review_business_days,
            ),
            start_to_close_timeout=calendar.TIMEOUT,
            retry_policy=calendar.RETRY,
            summary="R9: review deadline in business days",
        )
        self._state.review_deadline = deadline
        shown = self._day(deadline, before=self._scaled(_end_of(deadline)))
        workflow.upsert_search_attributes([attrs.REVIEW_DEADLINE.value_set(shown)])
        await self._notify(NoticeKind.PRELIMINARY_CONFIRMATION)
        return True

    async def _review(self) -> bool:
        """R8, R9: the automatic verdict, then an operator's decision within the review window;
        at its end the conclusive verdict applies, otherwise the claim is escalated."""
        deadline = self._state.review_deadline
        assert deadline is not None
        verdict = await workflow.execute_activity_method(
            EligibilityActivities.check_claim,
            EligibilityRequest(
                claim_id=self._claim.claim_id,
                offer_id=self._claim.offer.offer_id,
                claimed=self._claim.claimed,
                criteria=self._claim.offer.criteria,
                limits=self._claim.offer.limits,
            ),
            start_to_close_timeout=eligibility.TIMEOUT,
            retry_policy=eligibility.RETRY,
            summary="R8: automatic eligibility verdict",
        )
        self._state.verdict = verdict
        await self._set_status(
            ClaimStatus.UNDER_REVIEW, SYSTEM, f"automatic verdict: {_describe(verdict)}"
        )
        if self._decides_at_once():
            self._decision = self._automatic_decision(verdict)
            self._decided_at_once = self._decision is not None

        decided = self._decided_at_once or await self._wait_until(
            lambda: self._decision is not None,
            self._scaled(_end_of(deadline)),
            f"R9: operator decision until {deadline.isoformat()}",
        )
        if not decided:
            self._decision = self._automatic_decision(verdict)
        if self._decision is None:
            await self._escalate(verdict)
            await self._wait_until(
                lambda: self._decision is not None,
                None,
                "R9: escalated; waiting for an operator decision",
            )
        decision = self._decision
        assert decision is not None
        while (approved := await self._apply(decision)) is None:
            # D7: the budget could not cover the approval: a top-up tries it again, an
            # operator's decision replaces it.
            await self._wait_until(
                lambda: self._decision is not None or self._budget_topped_up,
                None,
                "D7: the offer's budget cannot cover the approval; waiting for a top-up or an "
                "operator decision",
            )
            self._budget_topped_up = False
            if self._decision is not None:
                decision, self._decided_at_once = self._decision, False
        return approved

    def _decides_at_once(self) -> bool:
        """D8: the offer decides conclusive verdicts at once (straight-through). Only such
        offers reach the patch, so claims of other offers run exactly as before."""
        policy = self._claim.offer.decision_policy
        return policy is DecisionPolicy.AT_ONCE_WHEN_CONCLUSIVE and workflow.patched(
            STRAIGHT_THROUGH
        )

    def _automatic_decision(self, verdict: ClaimVerdict) -> Decision | None:
        """R9: at the deadline, a conclusive verdict decides; an inconclusive one does not."""
        eligibility_ = verdict.eligibility
        if eligibility_.verdict is Verdict.ELIGIBLE and verdict.sale_date is not None:
            return Decision(kind=DecisionKind.APPROVE, operator=SYSTEM, reasons=())
        if eligibility_.verdict is Verdict.INELIGIBLE:
            return Decision(
                kind=DecisionKind.REJECT,
                operator=SYSTEM,
                reasons=tuple(reason.detail for reason in eligibility_.reasons),
            )
        return None

    async def _escalate(self, verdict: ClaimVerdict) -> None:
        self._state.escalated = True
        reason = "R9: review deadline passed without a conclusive verdict"
        await self._record(TimelineEvent.REVIEW_ESCALATED, actor=SYSTEM, reason=reason)
        await self._notify(
            NoticeKind.OPERATOR_ESCALATION,
            reasons=(reason, *(r.detail for r in verdict.eligibility.reasons)),
        )

    async def _apply(self, decision: Decision) -> bool | None:
        """Carry out the decision: final confirmation (R9, R14 starts) or rejection; None when
        the offer's budget cannot cover the approval (D7): the claim is escalated instead."""
        self._state.decision = decision
        actor = decision.operator
        if decision.kind is DecisionKind.REJECT:
            await self._reject(actor, decision.reasons or ("rejected at review",))
            return False

        verdict = self._state.verdict
        assert verdict is not None
        licences = decision.licences or verdict.eligibility.eligible_licences
        if decision.licences is not None and workflow.patched(APPROVED_LICENCES_HELD):
            licences = await self._hold_approved_licences(decision.licences)
            if licences == 0:
                await self._reject(actor, (self._over_maximum(decision.licences, 0),))
                return False
        self._sale_date = decision.sale_date or verdict.sale_date
        amount = cashback_amount(licences, self._claim.offer.rate_per_licence)
        if workflow.patched(OFFER_BUDGETS) and not await self._commit_budget(amount):
            return None
        self._state.amount = amount
        await self._notify(NoticeKind.FINAL_CONFIRMATION)
        confirmed_on = self._today()  # R14: the 45 days run from this e-mail
        self._state.final_confirmation_on = confirmed_on
        self._state.payout_due = payout_due(confirmed_on, self._policy.payout_days)
        approved = f"approved: {licences} licences, {self._state.amount.format()}"
        if decision.licences is not None and licences < decision.licences:
            approved += f" ({self._over_maximum(decision.licences, licences)})"
        await self._set_status(ClaimStatus.AWAITING_BANK_DETAILS, actor, self._how(approved))
        return True

    async def _reject(self, actor: str, reasons: tuple[str, ...]) -> None:
        self._state.outcome_reasons.extend(reasons)
        self._state.awaiting_budget = False  # D7: rejected instead of waiting for budget
        await self._release_licences()
        await self._settle_budget(paid=False)
        await self._set_status(ClaimStatus.REJECTED, actor, self._how("; ".join(reasons)))
        await self._notify(NoticeKind.REJECTION, reasons=reasons)

    def _how(self, reason: str) -> str:
        """D8: a decision the straight-through policy made says so on the timeline."""
        return f"decided automatically: {reason}" if self._decided_at_once else reason

    async def _commit_budget(self, amount: Money) -> bool:
        """D7: commit the approval's amount against the offer's budget. When the budget
        cannot cover it, the claim is escalated to the operators with the reason (the mail
        once, the timeline each time) and waits, under review, for a top-up or a decision."""
        answer = await self._try_to_commit(amount)
        if not answer.committed:
            remaining = answer.remaining.format() if answer.remaining else "-"
            budget = answer.budget.format() if answer.budget else "-"
            reason = (
                f"D7: the offer's budget cannot cover this approval of {amount.format()} "
                f"({remaining} of {budget} remain); top up the budget or decide again"
            )
            first = not self._state.awaiting_budget
            self._state.decision = None
            self._state.escalated = True
            self._state.awaiting_budget = True
            await self._record(TimelineEvent.BUDGET_SHORT, actor=SYSTEM, reason=reason)
            if first:
                await self._notify(NoticeKind.BUDGET_SHORTFALL, reasons=(reason,))
            # A top-up made before the claim showed as waiting (recorded just above) told no
            # one: try once more; a later one finds the claim waiting and signals it.
            answer = await self._try_to_commit(amount)
        if not answer.committed:
            self._decision = None  # a new decision is awaited (and `decide` answers now)
            return False
        self._budget_committed = True
        self._state.awaiting_budget = False
        return True

    async def _try_to_commit(self, amount: Money) -> BudgetAnswer:
        return await workflow.execute_local_activity_method(
            BudgetActivities.commit,
            BudgetRequest(
                claim_id=self._claim.claim_id, offer_id=self._claim.offer.offer_id, amount=amount
            ),
            start_to_close_timeout=budgets.TIMEOUT,
            retry_policy=budgets.RETRY,
            summary=f"D7: commit {amount.format()} against the offer's budget",
        )

    async def _settle_budget(self, paid: bool) -> None:
        """D7: the payout consumes the commitment; a cancellation or forfeit releases it.
        Only claims that committed (under the patch) have one to settle."""
        if not self._budget_committed:
            return
        self._budget_committed = False
        self._budget_consumed = paid
        method = BudgetActivities.consume if paid else BudgetActivities.release
        await workflow.execute_local_activity_method(
            method,
            self._claim.claim_id,
            start_to_close_timeout=budgets.TIMEOUT,
            retry_policy=budgets.RETRY,
            summary="D7: the payout consumes the budget's commitment"
            if paid
            else "D7: release the budget's commitment",
        )

    async def _hold_approved_licences(self, licences: int) -> int:
        """R3: the licences an operator approved count against the customer's maximum as the
        automatic check's do; as many are held as fit beside other claims'."""
        return await workflow.execute_activity_method(
            EligibilityActivities.hold_approved_licences,
            ApprovedLicences(
                claim_id=self._claim.claim_id,
                offer_id=self._claim.offer.offer_id,
                claimed=self._claim.claimed,
                limits=self._claim.offer.limits,
                licences=licences,
            ),
            start_to_close_timeout=eligibility.TIMEOUT,
            retry_policy=eligibility.RETRY,
            summary=f"R3: hold the {licences} licences approved",
        )

    def _over_maximum(self, approved: int, held: int) -> str:
        maximum = self._claim.offer.limits.max_per_customer
        return (
            f"R3: {held} of the {approved} licences approved fit under the customer's maximum "
            f"of {maximum} beside other claims"
        )

    async def _collect_bank_details(self, loop: _NoticeLoop) -> BankDetailsSubmission | None:
        """R10-R12 (and R16): ask, wait `days_per_notice` days, ask again; a correction request
        counts as a notification. Valid details end the loop; an individual's account (R12) or
        nothing valid after the last notice cancels the claim."""
        kind = loop.first_kind
        payee_answer: PayeeAnswer | None = None  # VoP: the bank's answer a correction tells
        if self._state.status is not loop.status:
            await self._set_status(loop.status, SYSTEM, f"{loop.rule}: bank details needed")
        if kind is NoticeKind.BANK_DETAILS_REQUEST:
            confirmed, payee_answer = await self._standing_confirmation()
            if confirmed is not None:
                return confirmed
            if payee_answer is not None:
                kind = NoticeKind.CORRECTION_REQUEST  # R11: the bank did not verify the payee
        while loop.sent < self._policy.max_notices:
            loop.sent += 1
            respond_by = workflow.now() + self._policy.notice_window * self._policy.time_scale
            # Open before the notice goes out: its link may be used before the mail activity's
            # completion reaches the workflow (an update is applied before it in one task).
            self._accepting_bank_details = True
            await self._notify(
                kind, respond_by=respond_by, notification=loop.sent, payee=payee_answer
            )
            self._state.respond_by = respond_by
            arrived = await self._wait_until(
                lambda: self._bank_details is not None,
                respond_by,
                f"{loop.rule}: notice {loop.sent} of {self._policy.max_notices}, "
                f"bank details until {self._clock.shown(respond_by):%Y-%m-%d %H:%M} UTC",
            )
            self._accepting_bank_details = False
            self._state.respond_by = None
            if not arrived:
                continue
            details, self._bank_details = self._bank_details, None
            assert details is not None
            judgement = judge_bank_details(
                details.holder_type, details.holder_name, self._claim.reseller.company_name
            )
            self._state.last_bank_details_judgement = judgement
            verify_payee = self._verifies_payee(judgement)  # before the timeline's local activity
            await self._record(
                TimelineEvent.BANK_DETAILS_RECEIVED, actor=RESELLER, reason=judgement.value
            )
            payee_answer = None
            if judgement is BankDetailsJudgement.VALID:
                if verify_payee:
                    payee_answer = await self._payee_refused(details)
                if payee_answer is None:
                    self._state.bank_details_reference = details.reference
                    return details
            if judgement is BankDetailsJudgement.INDIVIDUAL_ACCOUNT:
                await self._cancel(
                    "R12: the bank account given is an individual's, not a company's"
                )
                return None
            kind = NoticeKind.CORRECTION_REQUEST  # R11 (a name that differs, or VoP's answer)
        await self._cancel(
            f"{loop.rule}: no valid bank details after notice {self._policy.max_notices}; "
            "the funds are forfeited"
        )
        return None

    async def _standing_confirmation(
        self,
    ) -> tuple[BankDetailsSubmission | None, PayeeAnswer | None]:
        """R10: bank details the reseller confirmed for all later claims are confirmed for this
        one too, if they are valid for it (R11) and their payee verified (VoP); otherwise the
        requests go out as usual, a correction request first when the bank did not verify
        the payee (with its answer). Claims that started before this step existed replay
        without it (the patch)."""
        if not workflow.patched(STANDING_CONFIRMATION):
            return None, None
        details = await workflow.execute_activity_method(
            BankDetailsActivities.standing_confirmation,
            self._claim.reseller.reseller_id,
            start_to_close_timeout=bank_details.TIMEOUT,
            retry_policy=bank_details.RETRY,
            summary="R10: bank details confirmed for all claims?",
        )
        if details is None:
            return None, None
        judgement = judge_bank_details(
            details.holder_type, details.holder_name, self._claim.reseller.company_name
        )
        valid = judgement is BankDetailsJudgement.VALID
        verify_payee = self._verifies_payee(judgement)  # before the timeline's local activity
        await self._record(
            TimelineEvent.BANK_DETAILS_RECEIVED,
            actor=RESELLER,
            reason=f"{judgement.value}: confirmed for all claims"
            + ("" if valid else "; asking for bank details"),
        )
        if not valid:
            return None, None
        self._state.last_bank_details_judgement = judgement
        refused = await self._payee_refused(details) if verify_payee else None
        if refused is not None:
            return None, refused
        self._state.bank_details_reference = details.reference
        return details, None

    def _verifies_payee(self, judgement: BankDetailsJudgement) -> bool:
        """Whether valid details go through Verification of Payee (the patch). Asked right
        after the details arrive (an update, an activity's result), before the timeline's
        local activity: a patch marker decided just after a local activity's result can land
        in a later workflow task than replay expects (a nondeterminism error, seen in test)."""
        return judgement is BankDetailsJudgement.VALID and workflow.patched(VERIFICATION_OF_PAYEE)

    async def _payee_refused(self, details: BankDetailsSubmission) -> PayeeAnswer | None:
        """Issue 14, R11 (Verification of Payee): before the first payment to bank details
        judged valid, their bank checks the organisation's registered legal name (R1) against
        the account. None: pay to them (MTCH, or the operators decided so after NOAP); else
        the answer a correction request tells the reseller (CMTC, NMTC, or NOAP when the
        operators asked for other details). The timeline records the answer, never the IBAN.
        Claims that judged details valid before this step existed replay without it
        (`_verifies_payee`)."""
        verified = await workflow.execute_activity_method(
            PayeeActivities.verify,
            PayeeCheck(reference=details.reference, name=self._claim.reseller.company_name),
            start_to_close_timeout=payee.TIMEOUT,
            retry_policy=payee.RETRY,
            summary="VoP: verify the payee before the first payment",
        )
        answer = verified.answer
        reason = answer.describe()
        if verified.verified_before:
            reason += "; verified before for these bank details, so the bank was not asked again"
        await self._record(TimelineEvent.PAYEE_VERIFIED, actor=SYSTEM, reason=reason)
        if answer.step is PayeeStep.ACCEPT:
            return None
        if answer.step is PayeeStep.ASK_FOR_CORRECTION:
            return answer
        return await self._payee_decided_by_operators(answer)

    async def _payee_decided_by_operators(self, answer: PayeeAnswer) -> PayeeAnswer | None:
        """VoP NOAP: the operators are told and the claim waits for a verified operator's
        `decide_payee`: pay to these details (None), or ask the reseller for other ones (the
        answer, for the correction request)."""
        reason = (
            f"{answer.describe()}: an operator decides whether to pay to these bank details or "
            "to ask the reseller for other ones"
        )
        self._state.awaiting_payee_decision = True
        await self._record(TimelineEvent.PAYEE_ESCALATED, actor=SYSTEM, reason=reason)
        await self._notify(NoticeKind.OPERATOR_ESCALATION, reasons=(reason,), payee=answer)
        await self._wait_until(
            lambda: self._payee_decision is not None,
            None,
            "VoP: NOAP; waiting for an operator's decision on the payee",
        )
        decision = self._payee_decision
        assert decision is not None
        self._state.awaiting_payee_decision = False
        pay = decision.kind is PayeeDecisionKind.PAY_TO_THESE_DETAILS
        decided = "pay to these bank details" if pay else "ask the reseller for other bank details"
        await self._record(
            TimelineEvent.PAYEE_DECIDED,
            actor=decision.operator,
            reason=f"VoP NOAP: decided to {decided}"
            + (f": {decision.reason}" if decision.reason else ""),
        )
        self._payee_decision = None  # taken: `decide_payee` answers now
        return None if pay else answer

    async def _pay_out(self) -> None:
        """R14, R15, R16, D5: wait for the end of the return window, pay once, and on a
        rejection for bank-detail reasons ask for new details (three notices at most). A paid
        claim watches for its transfer coming back (a bank's return) for the policy's
        `returns_watched_for`; a return takes it back into the same R16 loop."""
        while True:
            today = self._today()
            assert self._sale_date is not None
            pay_on = payout_date(today, self._sale_date, self._return_window_days())
            self._state.payout_date = pay_on
            shown = self._day(pay_on, before=self._scaled(_start_of(pay_on)))
            workflow.upsert_search_attributes([attrs.PAYOUT_DATE.value_set(shown)])
            await self._set_status(
                ClaimStatus.SCHEDULED_FOR_PAYMENT, SYSTEM, f"R14, R15: payout on {pay_on}"
            )
            await self._watch_payout_bound(pay_on)
            if pay_on > today:
                await self._wait_until(
                    lambda: False,
                    self._scaled(_start_of(pay_on)),
                    f"R15: return window ends; payout on {pay_on.isoformat()}",
                )
            order = self._payment_order()
            # The import may signal a return just behind the bank's booking (both in one inbox).
            self._returns_taken_for = order.idempotency_key
            self._paying = order.idempotency_key
            result = await workflow.execute_activity_method(
                PaymentActivities.pay,
                order,
                start_to_close_timeout=self._policy.bank_answer_within,
                retry_policy=payments.RETRY,
                summary=f"R14: pay {self._amount_text()} (attempt {self._payout_attempt})",
            )
            # Answered (by the bank's file or by the operators after an escalation): the next
            # timeline entry projects that the claim no longer waits for them.
            self._paying = None
            self._state.awaiting_payment_result = False
            self._state.waiting_for = ""
            # D3: an answer an operator entered is recorded as theirs (an argument: no patch).
            answered_by = result.entered_by or SYSTEM
            if result.outcome is PaymentOutcome.PAID:
                watch = self._return_watch()
                if not watch:
                    self._returns_taken_for = None
                await self._settle_budget(paid=True)
                self._state.paid_on = self._today()
                self._state.payment_reference = result.bank_reference
                await self._watch_payout_bound(self._state.paid_on)
                await self._set_status(
                    ClaimStatus.PAID, answered_by, f"paid, bank reference {result.bank_reference}"
                )
                await self._notify(NoticeKind.REMITTANCE_ADVICE)
                if not watch or not await self._returned_within(watch):
                    return
                await self._reopen_after_return()
            else:
                self._returns_taken_for, self._returned = None, None
                self._payout_attempt += 1
                self._state.bank_return_code = result.return_code
                await self._record(
                    TimelineEvent.PAYMENT_REJECTED,
                    actor=answered_by,
                    reason=f"{result.return_code}: {result.detail}",
                )
                await self._set_status(
                    ClaimStatus.PAYMENT_FAILED,
                    answered_by,
                    f"R16: the bank rejected the payment ({result.return_code})",
                )
            if await self._collect_bank_details(self._payment_failures) is None:
                return

    def _return_watch(self) -> timedelta:
        """R16: how long this paid claim watches for its transfer coming back, in workflow time
        (scaled like every wait of a demo); none for claims paid before the watch existed (the
        patch) and for a policy without one (a bank that never returns)."""
        watched = self._policy.returns_watched_for
        if not workflow.patched(RETURNS_AFTER_PAID) or watched <= timedelta(0):
            return timedelta(0)
        return watched * self._policy.time_scale

    async def _returned_within(self, watch: timedelta) -> bool:
        """R16: wait `watch` for the bank to return the paid transfer (`payment_returned`)."""
        until = workflow.now() + watch
        returned = await self._wait_until(
            lambda: self._returned is not None,
            until,
            f"R16: watching for a return of the transfer until "
            f"{self._clock.shown(until):%Y-%m-%d %H:%M} UTC",
        )
        self._returns_taken_for = None
        return returned

    async def _reopen_after_return(self) -> None:
        """R16: the paid transfer came back. The claim is PAYMENT_FAILED again, with the bank's
        reason on its timeline; the next payout gets a new key (D5); the amount is committed
        against the budget again (D7) until it is paid anew or released on a forfeit."""
        returned, self._returned = self._returned, None
        assert returned is not None
        self._payout_attempt += 1
        self._state.bank_return_code = returned.return_code
        self._state.paid_on = None
        self._state.payment_reference = None
        if self._budget_consumed:
            self._budget_consumed = False
            self._budget_committed = True
            await workflow.execute_local_activity_method(
                BudgetActivities.reopen,
                self._claim.claim_id,
                start_to_close_timeout=budgets.TIMEOUT,
                retry_policy=budgets.RETRY,
                summary="D7: the returned payout is committed against the budget again",
            )
        meaning = reason_text(returned.return_code)
        reference = f", bank reference {returned.bank_reference}" if returned.bank_reference else ""
        await self._record(
            TimelineEvent.PAYMENT_RETURNED,
            actor=SYSTEM,
            reason=f"{returned.return_code}: {meaning or 'returned by the bank'}{reference}",
        )
        await self._set_status(
            ClaimStatus.PAYMENT_FAILED,
            SYSTEM,
            f"R16: the bank returned the payment after it was paid ({returned.return_code})",
        )

    async def _watch_payout_bound(self, pay_on: date) -> None:
        """R14: the payout is due within `payout_days` of the final confirmation; a payout on a
        later day is recorded once and reported to the operators."""
        due = self._state.payout_due
        if self._state.payout_overdue or due is None or pay_on <= due:
            return
        self._state.payout_overdue = True
        reason = f"R14: payout on {pay_on} is after the 45-day bound ({due})"
        await self._record(TimelineEvent.PAYOUT_OVERDUE, actor=SYSTEM, reason=reason)
        await self._notify(NoticeKind.PAYOUT_OVERDUE, reasons=(reason,))

    async def _cancel(self, reason: str) -> None:
        self._state.outcome_reasons.append(reason)
        await self._release_licences()
        await self._settle_budget(paid=False)
        await self._set_status(ClaimStatus.CANCELLED, SYSTEM, reason)
        await self._notify(NoticeKind.CANCELLATION, reasons=(reason,))

    # ---- operator decisions and bank details -----------------------------------------------

    @workflow.update
    async def decide(self, decision: Decision) -> ClaimState:
        """An operator approves or rejects the claim under review (R8, R9)."""
        self._decision = decision
        # Answered once the claim left review, or (D7) once the budget could not cover it.
        await workflow.wait_condition(
            lambda: (
                self._state.status is not ClaimStatus.UNDER_REVIEW or self._decision is not decision
            )
        )
        return self.state()

    @workflow.signal
    def payment_returned(self, returned: PaymentReturn) -> None:
        """R16: the bank returned a paid transfer (the import of a camt.054 return). Taken once,
        and only for the payout being paid or watched for returns (it may arrive just before
        the booking's answer); any other (a claim not paying, a return of an earlier payout,
        the same return again, one after the watch) is ignored."""
        if self._returns_taken_for == returned.idempotency_key and self._returned is None:
            self._returned = returned

    @workflow.signal
    async def payment_escalated(self, escalation: PaymentEscalation) -> None:
        """R14, issue 14: the bank answered the payout ambiguously (MS03, FRAD, a code the
        program does not know; the import of its pain.002 or camt.054). The payment keeps
        waiting for an answer, which an operator enters (`POST .../payment-result`); the claim
        records the escalation and mails the operators. Taken once, and only for the payout
        being paid; any other (an earlier payout, the same answer again) is ignored. Claims
        that never get the signal issue the commands they did before; one that got it from a
        worker without this handler (a rolling deployment) replays it as it ran then: nothing
        (the patch, docs/workflow-changes.md)."""
        key = escalation.idempotency_key
        if self._paying != key or self._escalated_payout == key:
            return
        if not workflow.patched(PAYMENT_ESCALATION):
            return
        self._escalated_payout = key
        meaning = reason_text(escalation.reason_code) or "a reason the program does not know"
        answer = f"{escalation.status} {escalation.reason_code or ''}".strip()
        reason = (
            f"R14: the bank answered the payout {answer} ({meaning}), which does not say whether "
            "it paid: the payout waits until an operator enters the bank's result"
        )
        self._state.awaiting_payment_result = True
        self._state.waiting_for = f"R14: the operators' answer to the bank's {answer}"
        self._show(f"waiting for {self._state.waiting_for}")
        await self._record(TimelineEvent.PAYMENT_ESCALATED, actor=SYSTEM, reason=reason)
        await self._notify(
            NoticeKind.OPERATOR_ESCALATION, reasons=(reason,), payment_escalation=answer
        )

    @workflow.signal
    def budget_topped_up(self) -> None:
        """D7: the offer's budget was topped up; a claim waiting for one tries again."""
        if self._state.awaiting_budget:
            self._budget_topped_up = True

    @decide.validator
    def _validate_decision(self, decision: Decision) -> None:
        # D3: only a decision the program signed for a signed-in operator, for this claim, now.
        decisions.verify_on(
            workflow.info().task_queue,
            decision,
            claim_id=self._claim.claim_id,
            now=workflow.now(),
        )
        status = self._state.status
        if status is not ClaimStatus.UNDER_REVIEW or self._decision is not None:
            raise ValueError(f"the claim is not under review (status {status.value})")
        if decision.kind is DecisionKind.REJECT and not decision.reasons:
            raise ValueError("a rejection needs at least one reason for the reseller")
        if decision.kind is DecisionKind.APPROVE:
            verdict = self._state.verdict
            if verdict is not None and sold_by_another(verdict.eligibility):
                raise ValueError(
                    "R8: the licensing records say another reseller sold this agreement, so the "
                    "claim can only be rejected; if the record is wrong, correct it and ask the "
                    "reseller to claim again"
                )
            licences = decision.licences or (
                verdict.eligibility.eligible_licences if verdict else 0
            )
            if not licences:
                raise ValueError(
                    "the automatic check counted no eligible licences: give `licences`"
                )
            if decision.sale_date is None and (verdict is None or verdict.sale_date is None):
                raise ValueError(
                    "the agreement is not in the licensing records: give its `sale_date` (R15)"
                )

    @workflow.update
    async def decide_payee(self, decision: PayeeDecision) -> ClaimState:
        """Issue 14, R11: a verified operator's decision on bank details whose payee the bank
        could not verify (VoP NOAP): pay to them, or ask the reseller for other ones."""
        self._payee_decision = decision
        await workflow.wait_condition(lambda: self._payee_decision is not decision)
        return self.state()

    @decide_payee.validator
    def _validate_payee_decision(self, decision: PayeeDecision) -> None:
        # D3: only a decision the program signed for a signed-in operator, for this claim, now.
        decisions.verify_on(
            workflow.info().task_queue,
            decision,
            claim_id=self._claim.claim_id,
            now=workflow.now(),
        )
        if not self._state.awaiting_payee_decision or self._payee_decision is not None:
            raise ValueError(
                "the claim does not wait for a decision on its payee "
                f"(status {self._state.status.value})"
            )

    @workflow.update
    def submit_bank_details(self, details: BankDetailsSubmission) -> BankDetailsJudgement:
        """The reseller's bank details, from the secure page (R10-R13); answers how they were
        judged: valid, an individual's account (R12) or a name that differs (R11)."""
        self._bank_details = details
        return judge_bank_details(
            details.holder_type, details.holder_name, self._claim.reseller.company_name
        )

    @submit_bank_details.validator
    def _validate_bank_details(self, details: BankDetailsSubmission) -> None:
        if not self._accepting_bank_details or self._bank_details is not None:
            raise ValueError(
                f"no bank details are requested for this claim (status {self._state.status.value})"
            )

    @workflow.query
    def state(self) -> ClaimState:
        """The claim as it stands: status, deadlines, notices sent, amount."""
        return self._state.model_copy(deep=True)

    # ---- the steps every change takes ----------------------------------------------------------

    async def _set_status(self, status: ClaimStatus, actor: str, reason: str) -> None:
        """D3: every status change is recorded; the search attribute and the details an
        operator sees in the Temporal UI follow it."""
        previous = self._state.status
        self._state.status = status
        workflow.upsert_search_attributes([attrs.CLAIM_STATUS.value_set(status)])
        self._show(reason)
        await self._record(
            TimelineEvent.STATUS_CHANGED,
            actor=actor,
            from_status=previous,
            to_status=status,
            reason=reason,
            amount=self._state.amount,
        )

    def _show(self, what: str) -> None:
        """The claim's current details in the Temporal UI (Markdown, a text, not a command): its
        status, its amount once approved, and what last happened or what it waits for."""
        amount = f" · cash back **{self._state.amount.format()}**" if self._state.amount else ""
        workflow.set_current_details(f"**{self._state.status.value}**{amount}: {what}")

    async def _record(
        self,
        event: TimelineEvent,
        *,
        actor: str,
        reason: str,
        from_status: ClaimStatus | None = None,
        to_status: ClaimStatus | None = None,
        amount: Money | None = None,
    ) -> None:
        self._timeline_sequence += 1
        entry = TimelineEntry(
            claim_id=self._claim.claim_id,
            sequence=self._timeline_sequence,
            at=workflow.now(),
            actor=actor,
            event=event,
            from_status=from_status,
            to_status=to_status,
            reason=reason,
            amount=amount,
            # The read model: an argument, not a command, so running claims need no patch.
            projection=self._state.projection(),
        )
        # A short database write (idempotent on the sequence): a local activity under the
        # patch `timeline-as-local-activity`.
        await _execute(
            RecordsActivities.append_timeline,
            entry,
            local=self._local_timeline,
            start_to_close_timeout=records.TIMEOUT,
            retry_policy=records.RETRY,
            summary=f"D3: timeline, {event.value}",
        )

    async def _notify(
        self,
        kind: NoticeKind,
        *,
        respond_by: datetime | None = None,
        reasons: tuple[str, ...] = (),
        notification: int | None = None,
        payee: PayeeAnswer | None = None,
        payment_escalation: str | None = None,
        undelivered_notice: str | None = None,
    ) -> None:
        """Send one notice. One that cannot be delivered (a mailbox that does not exist) does
        not stop the claim: it is recorded and reported to the operators."""
        issued_at = workflow.now()
        number = self._sent_per_kind.get(kind, 0) + 1
        self._sent_per_kind[kind] = number
        notice = NoticeRequest(
            claim_id=self._claim.claim_id,
            kind=kind,
            number=number,
            notification=notification,
            notifications_allowed=self._policy.max_notices if notification else None,
            reseller=self._claim.reseller,
            respond_by=respond_by,
            facts=NoticeFacts(
                agreement_number=self._claim.claimed.agreement_number,
                offer_name=self._claim.offer.name,
                amount=self._state.amount,
                reasons=reasons,
                review_deadline=self._state.review_deadline,
                payout_date=self._state.payout_date,
                payment_reference=self._state.payment_reference,
                bank_return_code=self._state.bank_return_code,
                payee_answer=payee,  # VoP: what the bank answered (a correction request)
                payment_escalation=payment_escalation,  # R14: an ambiguous answer to a payout
                undelivered_notice=undelivered_notice,  # the reseller's e-mail refused
            ),
            program_clock=self._clock,  # an argument, not a command: no patch
        )
        self._state.notices.append(
            SentNotice(kind=kind, number=number, sent_at=issued_at, respond_by=respond_by)
        )
        try:
            # One SMTP round trip to the relay (and the notice log's row), idempotent on
            # (claim, kind, number): a local activity under the patch
            # `notices-as-local-activity`. A retry past the SDK's local retry threshold is a
            # timer in the history (a relay down for long).
            await _execute(
                MailActivities.send_notice,
                notice,
                local=self._local_notices,
                start_to_close_timeout=mail.TIMEOUT,
                retry_policy=mail.RETRY,
                summary=f"e-mail: {kind.value} {number}",
            )
        except (ActivityError, ApplicationError) as error:
            if not _is_undeliverable(error):
                raise
            reason = f"e-mail {kind.value} {number} could not be delivered"
            await self._record(TimelineEvent.NOTICE_UNDELIVERABLE, actor=SYSTEM, reason=reason)
            if not kind.for_operators:
                await self._notify(
                    NoticeKind.OPERATOR_ESCALATION,
                    reasons=(reason,),
                    undelivered_notice=f"{kind.value} {number}",
                )

    async def _release_licences(self) -> None:
        await workflow.execute_activity_method(
            EligibilityActivities.release_licences,
            self._claim.claim_id,
            start_to_close_timeout=eligibility.TIMEOUT,
            retry_policy=eligibility.RETRY,
            summary="R3: release the claim's licences",
        )

    async def _wait_until(
        self, condition: Callable[[], bool], until: datetime | None, summary: str
    ) -> bool:
        """Wait for `condition`, until the instant `until` if given; False when the timer won.
        What the claim waits for is shown by the `state` query and in the Temporal UI."""
        self._state.waiting_for = summary
        self._show(f"waiting for {summary}")
        timeout = None if until is None else max(until - workflow.now(), timedelta(seconds=1))
        try:
            await workflow.wait_condition(condition, timeout=timeout, timeout_summary=summary)
            return True
        except TimeoutError:
            return False
        finally:
            self._state.waiting_for = ""

    def _payment_order(self) -> PaymentOrder:
        assert self._state.amount is not None
        assert self._state.bank_details_reference is not None
        return PaymentOrder(
            idempotency_key=payout_idempotency_key(self._claim.claim_id, self._payout_attempt),
            claim_id=self._claim.claim_id,
            amount=self._state.amount,
            bank_details_ref=self._state.bank_details_reference,
            remittance_information=(
                f"Cash back {self._claim.offer.name}, agreement "
                f"{self._claim.claimed.agreement_number}, claim {self._claim.claim_id}"
            ),
        )

    def _day(self, day: date, *, before: datetime) -> datetime:
        """A day as a search attribute: its start (UTC), so the Web UI shows the day the API,
        the e-mails and the timers' summaries give. Claims that set theirs earlier keep what
        they showed then, `before` (the timer's instant: the review deadline's next midnight,
        a demo's scaled instant)."""
        return _start_of(day) if self._days_on_the_day else before

    def _today(self) -> date:
        """The program's day: today, or for a demo whose policy runs time faster (`time_scale`
        < 1), the day the program has reached since the claim arrived, so that the dates it
        computes and shows (final confirmation, payout, paid on) are the program's. Claims that
        started before kept the wall-clock day."""
        if not self._program_days:
            return workflow.now().date()
        return self._clock.today(workflow.now())

    def _scaled(self, instant: datetime) -> datetime:
        """When the program waits until `instant`: the same instant, or for a demo whose policy
        runs time faster (`time_scale` < 1), proportionally sooner after the claim arrived."""
        return self._clock.wall(instant)

    def _return_window_days(self) -> int:
        """R15: the right of return of the end customer's country (the reseller's when the
        licensing records do not know the agreement)."""
        verdict = self._state.verdict
        country = verdict.customer_country if verdict else None
        return self._policy.return_window_for(country or self._claim.reseller.country)

    def _amount_text(self) -> str:
        return self._state.amount.format() if self._state.amount else "-"

    def _outcome(self) -> ClaimOutcome:
        status = self._state.status
        return ClaimOutcome(
            claim_id=self._claim.claim_id,
            status=status,
            amount=self._state.amount,
            paid_on=self._state.paid_on,
            payment_reference=self._state.payment_reference,
            forfeited=status is ClaimStatus.CANCELLED,
            reasons=list(self._state.outcome_reasons),
        )


async def _execute(
    activity: Callable[[Any, A], R],
    argument: A,
    *,
    local: bool,
    start_to_close_timeout: timedelta,
    retry_policy: RetryPolicy,
    summary: str,
) -> R:
    """Run an activity method as a local activity (by the worker within the workflow task: one
    marker in the history instead of an activity task's three events and two round trips
    through the server; issue 16's patches) when `local`, else as an activity task."""
    if local:
        return await workflow.execute_local_activity_method(
            activity,
            argument,
            start_to_close_timeout=start_to_close_timeout,
            retry_policy=retry_policy,
            summary=summary,
        )
    return await workflow.execute_activity_method(
        activity,
        argument,
        start_to_close_timeout=start_to_close_timeout,
        retry_policy=retry_policy,
        summary=summary,
    )


def _is_undeliverable(error: ActivityError | ApplicationError) -> bool:
    """The mail server refused the notice for good (`mail.UNDELIVERABLE`, not retried). An
    activity task's failure arrives as an `ActivityError` whose cause is the activity's
    `ApplicationError`; a local activity's non-retryable failure arrives as that
    `ApplicationError` itself (temporalio 1.35), so both are read."""
    cause = error.cause if isinstance(error, ActivityError) else error
    return isinstance(cause, ApplicationError) and cause.type == mail.UNDELIVERABLE


def _describe(verdict: ClaimVerdict) -> str:
    eligibility_ = verdict.eligibility
    return f"{eligibility_.verdict.value}, {eligibility_.eligible_licences} eligible licences"
