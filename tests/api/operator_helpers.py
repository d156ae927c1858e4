"""Claims for the operator tests, started the way the submission endpoint will start them: the
invoice stored, the claim row written, then the claim's workflow started on the API's worker."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from temporalio.client import WorkflowHandle

from activities.invoices import InvoiceRef
from cashback.claims import ClaimInput, ClaimOutcome, ClaimState, claim_workflow_id
from cashback.db.snapshots import claim_input_of
from cashback.db.tables import Claim, Offer, Reseller
from cashback.domain.status import ClaimStatus
from tests.api.harness import Api
from workflows.claim import ClaimWorkflow


@dataclass(frozen=True)
class StartedClaim:
    claim_id: str
    invoice: bytes
    handle: WorkflowHandle[Any, ClaimOutcome]


def add_claim_row(
    api: Api,
    reseller_id: str,
    offer_id: str,
    agreement_number: str,
    *,
    received_at: datetime | None = None,
    customer_name: str = "Fabrikam AG",
    status: ClaimStatus = ClaimStatus.SUBMITTED,
) -> tuple[Claim, ClaimInput, bytes]:
    """The invoice and the claim row, as the API leaves them on submission (R5, R6); and the
    input of the claim's workflow."""
    services = api.services
    claim_id = uuid.uuid4().hex[:12]
    received_at = received_at or datetime.now(UTC)
    invoice = b"%PDF-1.7 customer invoice of claim " + claim_id.encode()
    stored = services.invoices.put(f"claims/{claim_id}/invoice.pdf", invoice, "application/pdf")
    with services.database.transaction() as session:
        reseller = session.get_one(Reseller, reseller_id)
        offer = session.get_one(Offer, offer_id)
        claim = Claim(
            id=claim_id,
            workflow_id=claim_workflow_id(claim_id),
            idempotency_key=f"key-{claim_id}",
            reseller_id=reseller.id,
            offer_id=offer.id,
            agreement_number=agreement_number,
            customer_name=customer_name,
            reseller_name_on_agreement=reseller.company_name,
            terms_accepted_version=offer.terms_version,
            terms_accepted_at=received_at,
            invoice_object_key=stored.object_key,
            invoice_sha256=stored.sha256,
            status=status,
            amount_minor_units=None,
            currency=None,
            created_at=received_at,
            updated_at=received_at,
        )
        session.add(claim)
        claim_input = claim_input_of(
            reseller,
            offer,
            claim,
            InvoiceRef.model_validate(stored, from_attributes=True),
            services.settings.policy,
        )
    return claim, claim_input, invoice


async def start_claim(
    api: Api,
    reseller_id: str,
    offer_id: str,
    agreement_number: str,
    *,
    received_at: datetime | None = None,
) -> StartedClaim:
    """A submitted claim whose workflow runs on the API's worker."""
    claim, claim_input, invoice = add_claim_row(
        api, reseller_id, offer_id, agreement_number, received_at=received_at
    )
    handle = await api.services.temporal.start_workflow(
        ClaimWorkflow.run,
        claim_input,
        id=claim.workflow_id,
        task_queue=api.services.settings.task_queue,
    )
    return StartedClaim(claim.id, invoice, handle)


async def under_review(claim: StartedClaim) -> ClaimState:
    """Wait until the claim is under review and its workflow waits for a decision (R8, R9)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while True:
        state: ClaimState = await claim.handle.query(ClaimWorkflow.state)
        if state.status is ClaimStatus.UNDER_REVIEW and state.waiting_for:
            return state
        if loop.time() > deadline:
            raise AssertionError(f"claim stuck in {state.status}: {state.waiting_for!r}")
        await asyncio.sleep(0.05)


async def projected(api: Api, claim_id: str, status: ClaimStatus, seconds: float = 10) -> Claim:
    """The claim's row once its read model shows `status` (the workflow's record activity
    writes it just after the workflow's state changed)."""
    async with asyncio.timeout(seconds):
        while True:
            with api.services.database.reading() as session:
                row = session.get_one(Claim, claim_id)
            if row.status is status:
                return row
            await asyncio.sleep(0.05)
