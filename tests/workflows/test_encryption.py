"""R13: with the program's data converter every payload of a claim's history is encrypted: the
raw history read without the key holds no customer name, holder name, reseller address or
failure message in plain text; with the key, the same history reads as before."""

from __future__ import annotations

import uuid

from temporalio.testing import WorkflowEnvironment

from cashback.claims import BankDetailsSubmission, claim_workflow_id
from cashback.config import Settings
from cashback.domain.payout import HolderType
from cashback.domain.status import ClaimStatus
from cashback.wiring import data_converter
from tests.claim_waits import claim_outcome
from tests.decisions import decision_key, signed
from tests.workflows.claims import APPROVE, RESELLER_NAME, Program, claim_input, licensing_record
from worker import claim_worker
from workflows.claim import ClaimWorkflow

CANARY_HOLDER = f"{RESELLER_NAME}"
CANARY_CUSTOMER = "Canary Customer 7f3e AG"


async def test_r13_claim_history_is_ciphertext_without_the_key(env: WorkflowEnvironment) -> None:
    """R13: a claim runs to PAID through an encrypting client and worker; its raw history has
    none of the claim's personal data in plain text, and the client with the key reads the
    outcome as usual."""
    converter = data_converter(Settings())
    client = await env.connect_client(data_converter=converter)
    program = Program(env=env, task_queue=f"claims-{uuid.uuid4()}")
    record = licensing_record().model_copy(update={"customer_name": CANARY_CUSTOMER})
    program.add_record(record)
    claim = claim_input(customer_name=CANARY_CUSTOMER)
    async with claim_worker(
        client, program.activities(), decision_key=decision_key(), task_queue=program.task_queue
    ):
        handle = await client.start_workflow(
            ClaimWorkflow.run,
            claim,
            id=claim_workflow_id(claim.claim_id),
            task_queue=program.task_queue,
        )
        await program.wait_for(handle, ClaimStatus.UNDER_REVIEW)
        await handle.execute_update(ClaimWorkflow.decide, signed(APPROVE, claim.claim_id))
        await program.wait_for(handle, ClaimStatus.AWAITING_BANK_DETAILS)
        details = BankDetailsSubmission(
            reference="bank-details-1", holder_type=HolderType.COMPANY, holder_name=CANARY_HOLDER
        )
        await handle.execute_update(ClaimWorkflow.submit_bank_details, details)
        outcome = await claim_outcome(handle)
    assert outcome.status is ClaimStatus.PAID

    raw = (await env.client.get_workflow_handle(handle.id).fetch_history()).to_json()
    for secret in (CANARY_CUSTOMER, CANARY_HOLDER, claim.reseller.email, "Fabrikam"):
        assert secret not in raw
    assert "binary/encrypted" in raw or "YmluYXJ5L2VuY3J5cHRlZA" in raw  # base64 in JSON
