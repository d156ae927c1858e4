"""D3 on the real processes (`make run`: encrypted payloads, the API's codec endpoint): an
operator decides from outside the API, through the codec as the Temporal Web UI and the
`temporal` CLI do, and the timeline names the signed-in operator, never a name typed into the
decision's JSON."""

from __future__ import annotations

import asyncio
import base64
import json
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads, WorkflowExecution
from temporalio.api.enums.v1 import UpdateWorkflowExecutionLifecycleStage
from temporalio.api.update.v1 import Input, Meta, Request, WaitPolicy
from temporalio.api.workflowservice.v1 import UpdateWorkflowExecutionRequest
from temporalio.client import Client

from tests.e2e.stack import (
    OPERATOR,
    PASSWORD,
    Stack,
    create_operator,
    open_offer,
    poll,
    register,
    sign_in,
    submit_claim,
)

pytestmark = pytest.mark.e2e

TEMPORAL = Path(sys.executable).parent / "temporal"
FORGER = "olga@program.example"  # an address with no account
COMPANY, VAT_ID = "Contoso Software GmbH", "DE136695976"


def decision(claim_id: str, reason: str) -> dict[str, object]:
    """A rejection as an operator types it, naming someone else as the operator."""
    return {"kind": "reject", "claim_id": claim_id, "operator": FORGER, "reasons": [reason]}


def actors(stack: Stack, claim_id: str) -> dict[str, str]:
    """D3: the timeline in the database, status -> who changed to it."""
    database = sqlite3.connect(stack.data_dir / "cashback.sqlite3")
    rows = database.execute(
        "SELECT to_status, actor FROM claim_timeline WHERE claim_id = ? AND to_status IS NOT NULL",
        (claim_id,),
    )
    return dict(rows.fetchall())


async def cli(stack: Stack, *arguments: str) -> subprocess.CompletedProcess[str]:
    command = [str(TEMPORAL), "--address", f"127.0.0.1:{stack.temporal_port}", *arguments]
    return await asyncio.to_thread(
        subprocess.run, command, capture_output=True, text=True, timeout=60
    )


async def test_d3_decisions_through_the_codec_are_the_signed_in_operators(stack: Stack) -> None:
    """D3: (1) the codec's encode endpoint signs nothing without an operator's session (401);
    (2) a decision encoded with the operator's browser session (as the Web UI sends it) and
    sent as the update rejects the claim under that operator; (3) the `temporal` CLI without
    the codec is refused (`DecisionRefused`; the message is encrypted like every failure's),
    and with `--codec-endpoint` and `--codec-auth` it decides, under the signed-in operator
    again."""
    create_operator(stack)
    async with httpx.AsyncClient(base_url=stack.api, timeout=30) as http:
        operator = await sign_in(http, OPERATOR)
        offer_id = await open_offer(http, operator, "OL-E2E-D1", COMPANY, VAT_ID)
        reseller = await register(http, stack, COMPANY, "claims@contoso.example", VAT_ID)
        first = await submit_claim(http, reseller, offer_id, "OL-E2E-D1", COMPANY)
        second = await submit_claim(http, reseller, offer_id, "OL-E2E-D2", COMPANY)

        plain = {
            "metadata": {"encoding": base64.b64encode(b"json/plain").decode()},
            "data": base64.b64encode(json.dumps(decision(first, "illegible")).encode()).decode(),
        }
        anonymous = await http.post("/codec/encode", json={"payloads": [plain]})
        assert anonymous.status_code == 401

        session = await http.post(
            "/auth/session", data={"username": OPERATOR, "password": PASSWORD}
        )
        assert session.status_code == 204
        encoded = await http.post("/codec/encode", json={"payloads": [plain]})
        assert encoded.status_code == 200, encoded.text
        client = await Client.connect(f"127.0.0.1:{stack.temporal_port}")
        answer = await client.workflow_service.update_workflow_execution(
            UpdateWorkflowExecutionRequest(
                namespace="default",
                workflow_execution=WorkflowExecution(workflow_id=f"claim-{first}"),
                request=Request(
                    meta=Meta(update_id=str(uuid.uuid4())),
                    input=Input(
                        name="decide", args=json_format.ParseDict(encoded.json(), Payloads())
                    ),
                ),
                wait_policy=WaitPolicy(
                    lifecycle_stage=UpdateWorkflowExecutionLifecycleStage.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_ACCEPTED
                ),
            )
        )
        assert not answer.outcome.HasField("failure"), answer.outcome.failure.message
        await poll(http, f"/claims/{first}", reseller, "REJECTED")

        typed = json.dumps(decision(second, "not ours"))
        update = ["workflow", "update", "execute", "--workflow-id", f"claim-{second}"]
        refused = await cli(stack, *update, "--name", "decide", "--input", typed)
        assert refused.returncode != 0
        # Failure messages are encrypted too: without the codec the CLI shows only the type.
        assert "DecisionRefused" in refused.stderr, refused.stderr
        assert FORGER not in refused.stdout + refused.stderr
        assert (await http.get(f"/claims/{second}", headers=reseller)).json()["status"] == (
            "UNDER_REVIEW"
        )

        token = operator["Authorization"]
        codec = ["--codec-endpoint", f"{stack.api}/codec", "--codec-auth", token]
        sent = await cli(stack, *update, "--name", "decide", "--input", typed, *codec)
        assert sent.returncode == 0, sent.stdout + sent.stderr
        await poll(http, f"/claims/{second}", reseller, "REJECTED")

    for claim_id in (first, second):
        for _ in range(50):  # the timeline row follows the status
            if "REJECTED" in actors(stack, claim_id):
                break
            await asyncio.sleep(0.1)
        recorded = actors(stack, claim_id)
        assert recorded["REJECTED"] == OPERATOR, recorded
        assert FORGER not in recorded.values()
