"""The claim workflow with its real side effects, as a test drives it: seeding the rows the API
would have written, running a worker with `cashback.wiring.build_activities`, sending the
operator's and the reseller's messages, and reading back the database, the bank and the mail."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from activities.invoices import InvoiceRef
from activities.records import TimelineEntry, TimelineEvent
from cashback.bank.simulated import SimulatedBank
from cashback.claims import (
    BankDetailsSubmission,
    ClaimInput,
    ClaimOutcome,
    ClaimState,
    Decision,
    DecisionKind,
    claim_workflow_id,
)
from cashback.config import Settings
from cashback.db import BankAccounts, BankDetails, Database, LicensingRepository, SqlTimeline
from cashback.db.invitations import BankDetailsInvitations
from cashback.db.snapshots import claim_input_of
from cashback.db.tables import Claim, Offer, Reseller
from cashback.domain.eligibility import LicenceLine, LicensingRecord
from cashback.domain.payout import BankDetailsJudgement, HolderType
from cashback.domain.policy import ProgramPolicy
from cashback.domain.reseller import Language
from cashback.domain.status import ClaimStatus
from cashback.invoices import InvoiceStorage, StoredInvoice
from cashback.mail.smtp import NOTICE_HEADER
from cashback.wiring import bank_accounts, build_activities, payment_gateway
from tests.claim_waits import claim_state_until, claim_update
from tests.db.seed import add_offer, add_reseller, new_claim
from tests.decisions import signed
from tests.mail.mailbox import Delivery, Mailbox
from worker import claim_worker
from workflows.claim import ClaimWorkflow

OPERATOR = "olga.operator"
LICENCES = 20  # on the agreement, all covered by the seeded offer: 20 x 12.50 EUR
SALE_DATE = date(2026, 3, 2)  # inside the seeded offer's window, its return window long over
_SECURE_LINK = re.compile(r"https?://\S+/bank-details/(?P<token>[A-Za-z0-9_-]+)")


def seed_claim(
    database: Database,
    invoices: InvoiceStorage,
    *,
    company_name: str = "Acme Software GmbH",
    language: Language = Language.GERMAN,
) -> ClaimInput:
    """What the API leaves behind on submission (R5, R6): the invoice in the store, the reseller,
    the offer, the claim row and the licensing record of its agreement; and the workflow's
    input, built from those rows."""
    claim_id = uuid.uuid4().hex[:12]
    now = datetime.now(UTC)
    stored = invoices.put(
        f"claims/{claim_id}/invoice.pdf",
        b"%PDF-1.7 invoice of claim " + claim_id.encode(),
        "application/pdf",
    )
    with database.transaction() as session:
        reseller = add_reseller(session, f"reseller-{claim_id}")
        reseller.company_name = company_name
        reseller.language = language
        offer = add_offer(session, f"offer-{claim_id}")
        session.flush()
        claim = new_claim(claim_id, offer_id=offer.id)
        claim.reseller_id = reseller.id
        claim.reseller_name_on_agreement = company_name
        claim.invoice_object_key = stored.object_key
        claim.invoice_sha256 = stored.sha256
        claim.terms_accepted_at = claim.created_at = claim.updated_at = now
        session.add(claim)
        LicensingRepository(session).add_agreement(
            licensing_record_of(claim, company_name, reseller.vat_id), imported_at=now
        )
        return claim_input_of(reseller, offer, claim, invoice_ref(stored), ProgramPolicy())


def licensing_record_of(claim: Claim, reseller_name: str, seller_id: str | None) -> LicensingRecord:
    """The licensing record of a seeded claim's agreement: LICENCES new licences, sold on
    SALE_DATE by `seller_id` (R8) to the claim's customer in Germany (R2: eligible under the
    seeded offer)."""
    return LicensingRecord(
        agreement_number=claim.agreement_number,
        customer_name=claim.customer_name,
        customer_segment="commercial",
        customer_country="DE",
        reseller_name=reseller_name,
        seller_id=seller_id,
        sale_date=SALE_DATE,
        lines=(LicenceLine(product="Office Pro Plus", licence_type="new", quantity=LICENCES),),
    )


def invoice_ref(stored: StoredInvoice) -> InvoiceRef:
    """How the workflow refers to a stored invoice."""
    return InvoiceRef(
        object_key=stored.object_key,
        sha256=stored.sha256,
        content_type=stored.content_type,
        size_bytes=stored.size_bytes,
    )


def _claim_input(
    reseller: Reseller, offer: Offer, claim: Claim, content_type: str, size_bytes: int
) -> ClaimInput:
    invoice = InvoiceRef(
        object_key=claim.invoice_object_key,
        sha256=claim.invoice_sha256,
        content_type=content_type,
        size_bytes=size_bytes,
    )
    return claim_input_of(reseller, offer, claim, invoice, ProgramPolicy())


@dataclass(frozen=True)
class RealProgram:
    """A claim worker on its own task queue with the real activities, and what they touch."""

    env: WorkflowEnvironment
    settings: Settings
    database: Database
    task_queue: str

    @property
    def accounts(self) -> BankAccounts:
        return bank_accounts(self.settings, self.database)

    @property
    def invitations(self) -> BankDetailsInvitations:
        return BankDetailsInvitations(self.database)

    @property
    def bank(self) -> SimulatedBank:
        """The simulated bank on the ledger the worker's bank books into."""
        bank = payment_gateway(self.settings, self.accounts)
        assert isinstance(bank, SimulatedBank)
        return bank

    async def submit(self, claim: ClaimInput) -> WorkflowHandle[Any, ClaimOutcome]:
        return await self.env.client.start_workflow(
            ClaimWorkflow.run,
            claim,
            id=claim_workflow_id(claim.claim_id),
            task_queue=self.task_queue,
        )

    async def wait_for(
        self, handle: WorkflowHandle[Any, Any], status: ClaimStatus, *, notices: int = 0
    ) -> ClaimState:
        """Poll the `state` query until the claim has `status`, waits on a timer or a message,
        and has sent at least `notices` notices; ClaimStuck after 30 s, naming its state."""
        return await claim_state_until(
            handle,
            lambda state: (
                state.status is status and bool(state.waiting_for) and len(state.notices) >= notices
            ),
            f"{status.value} and waiting",
        )

    async def approve(self, handle: WorkflowHandle[Any, Any]) -> ClaimState:
        """The operator approves the claim under review (R8, R9)."""
        await self.wait_for(handle, ClaimStatus.UNDER_REVIEW, notices=1)
        approve = Decision(kind=DecisionKind.APPROVE, operator=OPERATOR)
        state: ClaimState = await claim_update(
            handle, ClaimWorkflow.decide, signed(approve, handle.id.removeprefix("claim-"))
        )
        return state

    async def enter_bank_details(
        self, handle: WorkflowHandle[Any, Any], token: str, details: BankDetails
    ) -> BankDetailsJudgement:
        """What the secure page does (R13): spend the one-time token, store the details
        encrypted, and hand the workflow only their reference and the facts it judges."""
        claim_id = self.invitations.use(token)
        assert claim_id is not None, "the secure link was refused"
        reference = self.accounts.store(details)
        judgement: BankDetailsJudgement = await claim_update(
            handle,
            ClaimWorkflow.submit_bank_details,
            BankDetailsSubmission(
                reference=reference,
                holder_type=details.holder_type,
                holder_name=details.holder_name,
            ),
        )
        return judgement

    def timeline(self, claim_id: str) -> list[TimelineEntry]:
        return SqlTimeline(self.database).of(claim_id)

    def status_changes(self, claim_id: str) -> list[tuple[ClaimStatus | None, str]]:
        """D3: (new status, actor) of every status change on the database timeline."""
        return [
            (entry.to_status, entry.actor)
            for entry in self.timeline(claim_id)
            if entry.event is TimelineEvent.STATUS_CHANGED
        ]


@asynccontextmanager
async def running_program(
    env: WorkflowEnvironment, settings: Settings, database: Database
) -> AsyncIterator[RealProgram]:
    """A claim worker with the activities `cashback.wiring` builds from `settings`."""
    program = RealProgram(env, settings, database, task_queue=f"claims-{uuid.uuid4()}")
    activities = build_activities(settings, database)
    async with claim_worker(
        env.client,
        activities,
        decision_key=settings.decision_key_bytes,
        task_queue=program.task_queue,
    ):
        yield program


def company_account(holder_name: str, iban: str) -> BankDetails:
    return BankDetails(holder_name=holder_name, holder_type=HolderType.COMPANY, iban=iban)


def notices_of(mailbox: Mailbox, claim_id: str) -> list[tuple[str, Delivery]]:
    """The claim's e-mails in the order received, each with its notice key (`kind/number`)."""
    prefix = f"{claim_id}/"
    return [
        (str(delivery.message[NOTICE_HEADER]).removeprefix(prefix), delivery)
        for delivery in mailbox.deliveries
        if str(delivery.message[NOTICE_HEADER]).startswith(prefix)
    ]


def secure_token(delivery: Delivery) -> str:
    """The token of the one-time bank-details link in a notice (R13)."""
    match = _SECURE_LINK.search(delivery.part("plain"))
    assert match is not None, "no /bank-details/ link in the notice"
    return match["token"]
