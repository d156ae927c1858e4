"""A reseller's claims through the API, for tests: invoices made on the spot, the submission
form, waiting for a status, and what a submission leaves behind (rows, files, workflows)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select
from temporalio.service import RPCError, RPCStatusCode

from cashback.claims import Decision, DecisionKind, claim_workflow_id
from cashback.db.tables import Claim
from cashback.decisions import DecisionKey
from cashback.domain.status import ClaimStatus
from tests.api.harness import Api, Reseller
from tests.claim_waits import ClaimStuck, claim_outcome, claim_update, where_the_claim_stands
from workflows.claim import ClaimWorkflow

TERMS_VERSION = "2026-01"  # the version of `harness.offer_body`
OPERATOR = "operator@program.example"


def invoice_pdf(number: str = "RE-2026-0815") -> bytes:
    """A small, valid one-page PDF (with a correct cross-reference table)."""
    content = f"BT /F1 12 Tf 20 150 Td (Invoice {number}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 200] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    pdf = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number_, body in enumerate(objects, start=1):
        offsets.append(len(pdf))
        pdf += b"%d 0 obj\n%s\nendobj\n" % (number_, body)
    xref = len(pdf)
    pdf += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    pdf += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    pdf += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(pdf)


PNG_1X1 = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63000100000500010d0a2db40000000049454e44ae426082"
)


def claim_fields(offer_id: str, agreement_number: str, **overrides: str | None) -> dict[str, str]:
    """The submission's text fields; an override of None leaves the field out."""
    fields: dict[str, str | None] = {
        "offer_id": offer_id,
        "agreement_number": agreement_number,
        "customer_name": "Fabrikam AG",
        "reseller_name": "Contoso Software GmbH",
        "terms_accepted_version": TERMS_VERSION,
    }
    fields.update(overrides)
    return {name: value for name, value in fields.items() if value is not None}


async def submit(
    api: Api,
    reseller: Reseller,
    offer_id: str,
    agreement_number: str,
    *,
    invoice: bytes | None = None,
    filename: str = "invoice.pdf",
    content_type: str = "application/pdf",
    idempotency_key: str | None = None,
    **overrides: str | None,
) -> httpx.Response:
    """POST /claims as `reseller`; `invoice=b""` sends an empty file, the default a PDF."""
    headers = dict(reseller.headers)
    if idempotency_key is not None:
        headers["Idempotency-Key"] = idempotency_key
    data = invoice_pdf() if invoice is None else invoice
    return await api.http.post(
        "/claims",
        data=claim_fields(offer_id, agreement_number, **overrides),
        files={"invoice": (filename, data, content_type)},
        headers=headers,
    )


async def submitted(api: Api, reseller: Reseller, offer_id: str, agreement_number: str) -> str:
    """Submit a claim that must be accepted; its id."""
    response = await submit(api, reseller, offer_id, agreement_number)
    assert response.status_code == 201, response.text
    claim_id: str = response.json()["claim_id"]
    return claim_id


async def wait_for_status(
    api: Api,
    reseller: Reseller,
    claim_id: str,
    status: ClaimStatus,
    until: Callable[[dict[str, Any]], bool] = lambda claim: True,
    seconds: float = 20,
) -> dict[str, Any]:
    """GET /claims/{id} until the claim is in `status` (and `until` holds); the claim read.
    ClaimStuck after `seconds`, naming the page's last answer and the workflow's state."""
    claim: dict[str, Any] = {}
    try:
        async with asyncio.timeout(seconds):
            while True:
                response = await api.http.get(f"/claims/{claim_id}", headers=reseller.headers)
                assert response.status_code == 200, response.text
                claim = response.json()
                if claim["status"] == status and until(claim):
                    return claim
                await asyncio.sleep(0.1)
    except TimeoutError:
        handle = api.services.temporal.get_workflow_handle(claim_workflow_id(claim_id))
        where = await where_the_claim_stands(handle)
        raise ClaimStuck(
            f"claim {claim_id} did not reach {status.value} within {seconds:g} s; the page "
            f"last said status {claim.get('status')!r}; {where}"
        ) from None


async def decide(api: Api, claim_id: str, decision: Decision) -> None:
    """An operator's decision, signed and sent to the workflow as the operators' endpoint
    would (D3)."""
    handle = api.services.temporal.get_workflow_handle_for(
        ClaimWorkflow.run, claim_workflow_id(claim_id)
    )
    key = DecisionKey(api.services.settings.decision_key_bytes)
    stamped = key.sign(
        decision, claim_id=claim_id, operator=decision.operator, issued_at=datetime.now(UTC)
    )
    await claim_update(handle, ClaimWorkflow.decide, stamped)


async def reject(api: Api, claim_id: str, reason: str) -> None:
    """An operator rejects the claim; its workflow then ends."""
    await decide(
        api, claim_id, Decision(kind=DecisionKind.REJECT, operator=OPERATOR, reasons=(reason,))
    )
    await claim_outcome(api.services.temporal.get_workflow_handle(claim_workflow_id(claim_id)))


def claim_rows(api: Api) -> list[Claim]:
    with api.services.database.reading() as session:
        return list(session.scalars(select(Claim)))


def stored_invoices(api: Api) -> list[Path]:
    """The invoice files of the local store (the bytes, not their sidecars)."""
    objects = api.services.settings.data_dir / "invoices" / "objects"
    return sorted(path for path in objects.rglob("*") if path.is_file())


async def workflows(api: Api) -> list[str]:
    """The ids of the workflows started on this test's task queue."""
    query = f'TaskQueue = "{api.services.settings.task_queue}"'
    return [wf.id async for wf in api.services.temporal.list_workflows(query)]


async def wait_for_workflows(api: Api, count: int) -> list[str]:
    """The task queue's workflows once `count` are visible (visibility is eventually
    consistent; waits up to ten seconds)."""
    found = await workflows(api)
    for _ in range(100):
        if len(found) >= count:
            break
        await asyncio.sleep(0.1)
        found = await workflows(api)
    return found


async def terminate_all(api: Api) -> None:
    """End the test's running workflows, so none is left waiting for a worker that is gone;
    each once none of its tasks is running (a task cut short only makes noise in logs). The
    list comes from visibility, which may still show a workflow that has just ended as
    running: one that is already gone is left as it is."""
    query = f'TaskQueue = "{api.services.settings.task_queue}" AND ExecutionStatus = "Running"'
    async for found in api.services.temporal.list_workflows(query):
        handle = api.services.temporal.get_workflow_handle(found.id)
        for _ in range(50):
            described = (await handle.describe()).raw_description
            if not described.pending_activities and not described.HasField("pending_workflow_task"):
                break
            await asyncio.sleep(0.1)
        try:
            await handle.terminate("test done")
        except RPCError as error:
            if error.status is not RPCStatusCode.NOT_FOUND:  # "already completed"
                raise


def new_agreement() -> str:
    return f"OL-{uuid.uuid4().hex[:8].upper()}"
