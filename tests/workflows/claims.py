"""Builders for claims and their licensing records, and a harness that runs the claim workflow
with in-memory dependencies on a per-workflow time-skipping clock."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from activities.bank_details import BankDetailsActivities
from activities.budgets import BudgetActivities
from activities.eligibility import EligibilityActivities
from activities.invoices import InvoiceActivities, InvoiceRef
from activities.mail import MailActivities, NoticeRequest
from activities.payee import PayeeActivities
from activities.payments import PaymentActivities
from activities.records import RecordsActivities, TimelineEntry, TimelineEvent
from cashback.claims import (
    BankDetailsSubmission,
    ClaimInput,
    ClaimOutcome,
    ClaimState,
    Decision,
    DecisionKind,
    OfferSnapshot,
    PayeeDecision,
    claim_workflow_id,
)
from cashback.domain.eligibility import ClaimedAgreement, LicenceLine, LicensingRecord
from cashback.domain.identity import Claimant
from cashback.domain.money import Money
from cashback.domain.offers import DecisionPolicy, LicenceLimits, OfferCriteria
from cashback.domain.payout import BankDetailsJudgement, HolderType
from cashback.domain.policy import ProgramPolicy
from cashback.domain.reseller import Language, ResellerSnapshot
from cashback.domain.status import ClaimStatus, NoticeKind
from tests.claim_waits import OUTCOME_SECONDS, claim_outcome, claim_state_until, claim_update
from tests.decisions import decision_key, signed
from tests.fakes import (
    InMemoryAccounts,
    InMemoryBudgets,
    InMemoryInvoiceStore,
    InMemoryLicensingRecords,
    InMemoryPayeeAnswers,
    InMemoryStandingConfirmations,
    InMemoryTimeline,
    RecordingOutbox,
    ScriptedBank,
    ScriptedPayeeVerification,
)
from worker import ClaimActivities, claim_worker, replayer
from workflows.claim import ClaimWorkflow

RESELLER_NAME = "Contoso Software GmbH"
RESELLER_VAT_ID = "DE136695976"  # R1: the claimant's verified identity
CLAIMANT = Claimant(
    reseller_id="reseller-7", legal_name=RESELLER_NAME, identifiers=(RESELLER_VAT_ID,)
)
HISTORIES = Path(__file__).parent / "histories"
INVOICE_SHA256 = "a" * 64


def today() -> date:
    return datetime.now(UTC).date()


def licensing_record(
    agreement_number: str = "OL-1001", *, sale_date: date | None = None, quantity: int = 20
) -> LicensingRecord:
    """An agreement the default offer covers: 20 Office licences for a German company."""
    return LicensingRecord(
        agreement_number=agreement_number,
        customer_name="Fabrikam AG",
        customer_segment="commercial",
        customer_country="DE",
        reseller_name=RESELLER_NAME,
        seller_id=RESELLER_VAT_ID,
        sale_date=sale_date or today() - timedelta(days=90),
        lines=(LicenceLine(product="Office Professional", licence_type="new", quantity=quantity),),
    )


def claim_input(
    agreement_number: str = "OL-1001",
    *,
    policy: ProgramPolicy | None = None,
    country: str = "DE",
    customer_name: str = "Fabrikam AG",
    decision_policy: DecisionPolicy = DecisionPolicy.AT_THE_DEADLINE,
) -> ClaimInput:
    now = datetime.now(UTC)
    return ClaimInput(
        claim_id=uuid.uuid4().hex[:12],
        reseller=ResellerSnapshot(
            reseller_id="reseller-7",
            company_name=RESELLER_NAME,
            country=country,
            language=Language.GERMAN,
            email="claims@contoso.example",
        ),
        offer=OfferSnapshot(
            offer_id="offer-office-2026",
            name="Office 2026 Cash Back",
            criteria=OfferCriteria(
                sale_date_from=today() - timedelta(days=400),
                sale_date_to=today() + timedelta(days=30),
                products=frozenset({"Office Professional"}),
                licence_types=frozenset({"new"}),
                customer_segments=frozenset({"commercial", "education"}),
                countries=frozenset({"DE", "AT"}),
            ),
            limits=LicenceLimits(min_per_customer=5, max_per_customer=100),
            rate_per_licence=Money(minor_units=1250, currency="EUR"),
            terms_version="2026-01",
            decision_policy=decision_policy,
        ),
        claimed=ClaimedAgreement(
            agreement_number=agreement_number,
            customer_name=customer_name,
            reseller_name=RESELLER_NAME,
            claimant=CLAIMANT,
        ),
        invoice=InvoiceRef(
            object_key=f"invoices/{agreement_number}.pdf",
            sha256=INVOICE_SHA256,
            content_type="application/pdf",
            size_bytes=2048,
        ),
        terms_accepted_version="2026-01",
        terms_accepted_at=now,
        received_at=now,
        policy=policy or ProgramPolicy(),
    )


APPROVE = Decision(kind=DecisionKind.APPROVE, operator="olga.operator")
COMPANY_DETAILS = BankDetailsSubmission(
    reference="bank-details-1", holder_type=HolderType.COMPANY, holder_name=RESELLER_NAME
)


@dataclass
class Program:
    """The claim workflow on a fresh task queue, with in-memory dependencies to inspect."""

    env: WorkflowEnvironment
    task_queue: str
    timeline: InMemoryTimeline = field(default_factory=InMemoryTimeline)
    outbox: RecordingOutbox = field(default_factory=RecordingOutbox)
    invoices: InMemoryInvoiceStore = field(default_factory=InMemoryInvoiceStore)
    records: InMemoryLicensingRecords = field(default_factory=InMemoryLicensingRecords)
    bank: ScriptedBank = field(default_factory=ScriptedBank)
    standing: InMemoryStandingConfirmations = field(default_factory=InMemoryStandingConfirmations)
    budgets: InMemoryBudgets = field(default_factory=InMemoryBudgets)
    accounts: InMemoryAccounts = field(default_factory=InMemoryAccounts)
    payee: ScriptedPayeeVerification = field(default_factory=ScriptedPayeeVerification)
    payee_answers: InMemoryPayeeAnswers = field(default_factory=InMemoryPayeeAnswers)
    handles: list[WorkflowHandle[Any, ClaimOutcome]] = field(default_factory=list)
    skipped: dict[str, timedelta] = field(default_factory=dict)  # workflow id -> fast-forwarded

    def activities(self) -> ClaimActivities:
        return ClaimActivities(
            records=RecordsActivities(self.timeline),
            mail=MailActivities(self.outbox),
            invoices=InvoiceActivities(self.invoices),
            eligibility=EligibilityActivities(self.records),
            payments=PaymentActivities(self.bank, pending=self.bank),
            bank_details=BankDetailsActivities(self.standing),
            budgets=BudgetActivities(self.budgets),
            payee=PayeeActivities(self.accounts, self.payee, self.payee_answers),
        )

    def add_record(self, record: LicensingRecord) -> None:
        self.records.records[record.agreement_number] = record
        self.invoices.sha256_by_key[f"invoices/{record.agreement_number}.pdf"] = INVOICE_SHA256

    async def submit(self, claim: ClaimInput) -> WorkflowHandle[Any, ClaimOutcome]:
        handle = await self.env.client.start_workflow(
            ClaimWorkflow.run,
            claim,
            id=claim_workflow_id(claim.claim_id),
            task_queue=self.task_queue,
        )
        self.handles.append(handle)
        return handle

    async def replay_histories(self, save_as: str | None) -> None:
        """Replay every claim this test ran against the workflow code (a nondeterministic
        change fails here), and keep the histories as fixtures when asked to."""
        for index, handle in enumerate(self.handles):
            history = await handle.fetch_history()
            await replayer().replay_workflow(history)
            if save_as:
                HISTORIES.mkdir(exist_ok=True)
                (HISTORIES / f"{save_as}-{index}.json").write_text(history.to_json())

    async def state(self, handle: WorkflowHandle[Any, Any]) -> ClaimState:
        return await handle.query(ClaimWorkflow.state)

    async def wait_for(
        self,
        handle: WorkflowHandle[Any, Any],
        status: ClaimStatus,
        *,
        waiting: bool = True,
        escalated: bool = False,
        notices: int = 0,
        seconds: float = 30,
    ) -> ClaimState:
        """Poll the `state` query until the claim has `status` and (by default) waits on a
        timer or a message, so that a fast-forward starts from a settled workflow; optionally
        until it has escalated or sent at least `notices` notices. ClaimStuck after `seconds`,
        naming the claim's state and its last history events."""
        return await claim_state_until(
            handle,
            lambda state: (
                state.status is status
                and bool(state.waiting_for or not waiting)
                and (state.escalated or not escalated)
                and len(state.notices) >= notices
            ),
            f"{status.value}" + (" and waiting" if waiting else ""),
            seconds,
        )

    async def outcome(
        self, handle: WorkflowHandle[Any, ClaimOutcome], seconds: float = OUTCOME_SECONDS
    ) -> ClaimOutcome:
        """The claim's outcome once its workflow ended; ClaimStuck after `seconds`."""
        return await claim_outcome(handle, seconds)

    async def fast_forward(self, handle: WorkflowHandle[Any, Any], duration: timedelta) -> bool:
        """Move this workflow's clock on by `duration`; False when it completed on the way."""
        self.skipped[handle.id] = self.skipped.get(handle.id, timedelta(0)) + duration
        return await self.env.fast_forward(handle, duration)

    async def top_up(self, offer_id: str, budget: int, *handles: WorkflowHandle[Any, Any]) -> None:
        """D7: the offer's budget is now `budget`; the claims waiting for one are told."""
        self.budgets.budgets[offer_id] = budget
        for handle in handles:
            await handle.signal(ClaimWorkflow.budget_topped_up)

    def signed(self, handle: WorkflowHandle[Any, Any], decision: Decision) -> Decision:
        """`decision` signed for the claim of `handle`, dated by the claim's clock (D3)."""
        claim_id = handle.id.removeprefix("claim-")
        return signed(decision, claim_id, skipped=self.skipped.get(handle.id, timedelta(0)))

    async def decide(self, handle: WorkflowHandle[Any, Any], decision: Decision) -> ClaimState:
        """An operator's decision, signed as the API signs it (D3)."""
        state: ClaimState = await claim_update(
            handle, ClaimWorkflow.decide, self.signed(handle, decision)
        )
        return state

    async def decide_payee(
        self, handle: WorkflowHandle[Any, Any], decision: PayeeDecision
    ) -> ClaimState:
        """An operator's decision on a payee the bank could not verify (VoP NOAP), signed as
        the API signs it (D3)."""
        claim_id = handle.id.removeprefix("claim-")
        skipped = self.skipped.get(handle.id, timedelta(0))
        state: ClaimState = await claim_update(
            handle, ClaimWorkflow.decide_payee, signed(decision, claim_id, skipped=skipped)
        )
        return state

    async def give_bank_details(
        self, handle: WorkflowHandle[Any, Any], details: BankDetailsSubmission = COMPANY_DETAILS
    ) -> BankDetailsJudgement:
        judgement: BankDetailsJudgement = await claim_update(
            handle, ClaimWorkflow.submit_bank_details, details
        )
        return judgement

    def notices(self, claim: ClaimInput) -> list[NoticeRequest]:
        return self.outbox.of(claim.claim_id)

    def kinds(self, claim: ClaimInput) -> list[NoticeKind]:
        return self.outbox.kinds(claim.claim_id)

    def timeline_of(self, claim: ClaimInput) -> list[TimelineEntry]:
        return self.timeline.of(claim.claim_id)

    def status_changes(self, claim: ClaimInput) -> list[TimelineEntry]:
        return [e for e in self.timeline_of(claim) if e.event is TimelineEvent.STATUS_CHANGED]

    def statuses(self, claim: ClaimInput) -> list[ClaimStatus | None]:
        return [e.to_status for e in self.status_changes(claim)]


@asynccontextmanager
async def running_program(
    env: WorkflowEnvironment, save_as: str | None = None
) -> AsyncIterator[Program]:
    program = Program(env=env, task_queue=f"claims-{uuid.uuid4()}")
    async with claim_worker(
        env.client,
        program.activities(),
        decision_key=decision_key(),
        task_queue=program.task_queue,
    ):
        yield program
    await program.replay_histories(save_as)
