"""D3 on the real processes (`make run`: encrypted payloads, the API's codec endpoint, the
Temporal Web UI): an operator decides from outside the API, through the codec as the Web UI and
the `temporal` CLI do, and the timeline names the signed-in operator, never a name typed into
the decision's JSON. One stack serves the module's tests."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from google.protobuf import json_format
from playwright.async_api import Page, async_playwright
from temporalio.api.common.v1 import Payloads, WorkflowExecution
from temporalio.api.enums.v1 import UpdateWorkflowExecutionLifecycleStage as Stage
from temporalio.api.update.v1 import Input, Meta, Request, WaitPolicy
from temporalio.api.workflowservice.v1 import UpdateWorkflowExecutionRequest
from temporalio.client import Client

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.e2e.stack import (
    OPERATOR,
    PASSWORD,
    Stack,
    create_operator,
    open_offer,
    poll,
    register,
    running_stack,
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


async def rejected_by(stack: Stack, claim_id: str) -> str:
    """Who rejected the claim, once the timeline row that follows the status is written."""
    for _ in range(50):
        recorded = actors(stack, claim_id)
        if "REJECTED" in recorded:
            assert FORGER not in recorded.values()
            return recorded["REJECTED"]
        await asyncio.sleep(0.1)
    raise AssertionError(f"claim {claim_id} has no rejection on its timeline: {recorded}")


async def cli(stack: Stack, *arguments: str) -> subprocess.CompletedProcess[str]:
    command = [str(TEMPORAL), "--address", f"127.0.0.1:{stack.temporal_port}", *arguments]
    return await asyncio.to_thread(
        subprocess.run, command, capture_output=True, text=True, timeout=60
    )


@dataclass
class Program:
    """The stack with an operator, an open offer and an approved reseller."""

    stack: Stack
    operator: dict[str, str]
    reseller: dict[str, str]
    offer_id: str

    async def claim(self, http: httpx.AsyncClient, agreement: str) -> str:
        """A claim under review (for an agreement the records may not know: any claim can be
        rejected)."""
        return await submit_claim(http, self.reseller, self.offer_id, agreement, COMPANY)


@pytest.fixture(scope="module")
def shared_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("decisions")) as stack:
        yield stack


@pytest.fixture(scope="module")
async def program(shared_stack: Stack) -> Program:
    create_operator(shared_stack)
    async with httpx.AsyncClient(base_url=shared_stack.api, timeout=30) as http:
        operator = await sign_in(http, OPERATOR)
        offer_id = await open_offer(http, operator, "OL-E2E-D1", COMPANY, VAT_ID)
        reseller = await register(http, shared_stack, COMPANY, "claims@contoso.example", VAT_ID)
    return Program(shared_stack, operator, reseller, offer_id)


@pytest.fixture
async def http(program: Program) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=program.stack.api, timeout=30) as client:
        yield client


async def test_d3_a_decision_encoded_with_the_operators_session_is_theirs(
    program: Program, http: httpx.AsyncClient
) -> None:
    """D3: the codec's encode endpoint signs nothing without an operator's session (401); a
    decision encoded with the operator's browser session (as the Web UI sends it) and sent as
    the update rejects the claim under that operator, not the one its JSON named."""
    stack = program.stack
    claim_id = await program.claim(http, "OL-E2E-D1")
    plain = {
        "metadata": {"encoding": base64.b64encode(b"json/plain").decode()},
        "data": base64.b64encode(json.dumps(decision(claim_id, "illegible")).encode()).decode(),
    }
    anonymous = await http.post("/codec/encode", json={"payloads": [plain]})
    assert anonymous.status_code == 401

    session = await http.post("/auth/session", data={"username": OPERATOR, "password": PASSWORD})
    assert session.status_code == 204
    encoded = await http.post("/codec/encode", json={"payloads": [plain]})
    assert encoded.status_code == 200, encoded.text
    client = await Client.connect(f"127.0.0.1:{stack.temporal_port}")
    accepted = Stage.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_ACCEPTED
    answer = await client.workflow_service.update_workflow_execution(
        UpdateWorkflowExecutionRequest(
            namespace="default",
            workflow_execution=WorkflowExecution(workflow_id=f"claim-{claim_id}"),
            request=Request(
                meta=Meta(update_id=str(uuid.uuid4())),
                input=Input(name="decide", args=json_format.ParseDict(encoded.json(), Payloads())),
            ),
            wait_policy=WaitPolicy(lifecycle_stage=accepted),
        )
    )
    assert not answer.outcome.HasField("failure"), answer.outcome.failure.message
    await poll(http, f"/claims/{claim_id}", program.reseller, "REJECTED")
    assert await rejected_by(stack, claim_id) == OPERATOR


async def test_d3_the_cli_decides_through_the_codec_only(
    program: Program, http: httpx.AsyncClient
) -> None:
    """D3: the `temporal` CLI without the codec is refused (`DecisionRefused`; the message is
    encrypted like every failure's) and the claim stays under review; with `--codec-endpoint`
    and `--codec-auth` it decides, under the signed-in operator."""
    stack = program.stack
    claim_id = await program.claim(http, "OL-E2E-D2")
    typed = json.dumps(decision(claim_id, "not ours"))
    update = ["workflow", "update", "execute", "--workflow-id", f"claim-{claim_id}"]
    refused = await cli(stack, *update, "--name", "decide", "--input", typed)
    assert refused.returncode != 0
    assert "DecisionRefused" in refused.stderr, refused.stderr
    assert FORGER not in refused.stdout + refused.stderr
    claim = (await http.get(f"/claims/{claim_id}", headers=program.reseller)).json()
    assert claim["status"] == "UNDER_REVIEW"

    token = program.operator["Authorization"]
    codec = ["--codec-endpoint", f"{stack.api}/codec", "--codec-auth", token]
    sent = await cli(stack, *update, "--name", "decide", "--input", typed, *codec)
    assert sent.returncode == 0, sent.stdout + sent.stderr
    await poll(http, f"/claims/{claim_id}", program.reseller, "REJECTED")
    assert await rejected_by(stack, claim_id) == OPERATOR


async def send_update_in_the_web_ui(page: Page, content: dict[str, object]) -> None:
    """More Actions, Send an Update, `decide`, the JSON typed, Submit (Temporal UI 2.54; the
    page keeps hidden copies of the dialog, hence `:visible`)."""
    await page.get_by_role("button", name="More Actions").click()
    await page.locator("[data-testid=update-button]:visible").click()
    await page.locator("[data-testid=update-select-button]:visible").click()
    await (
        page.locator("li[role=option]:visible")
        .filter(has_text=re.compile(r"^\s*decide\s*$"))
        .click()
    )
    await page.locator(".cm-content[contenteditable=true]:visible").last.fill(json.dumps(content))
    await page.keyboard.press("Tab")  # the form takes the editor's text when it loses focus
    async with (
        page.expect_response(lambda answer: "/codec/encode" in answer.url) as encoded,
        page.expect_response(lambda answer: "/update/decide" in answer.url) as updated,
    ):
        await page.locator("button:visible", has_text="Submit").click()
    assert (await encoded.value).status == 200
    assert (await updated.value).status == 200, await (await updated.value).text()


@pytest.mark.browser
async def test_d3_a_decision_from_the_web_ui_is_the_signed_in_operators(
    program: Program, http: httpx.AsyncClient
) -> None:
    """D3: in chromium, an operator signed in to the codec (the session cookie, "include
    cross-origin credentials" on) sends `decide` from the Temporal Web UI with JSON naming
    someone else: the claim is rejected under the signed-in operator."""
    stack = program.stack
    claim_id = await program.claim(http, "OL-E2E-D3")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        try:
            context = await browser.new_context(viewport={"width": 1400, "height": 1000})
            await context.add_init_script(
                f"localStorage.setItem('endpoint', {json.dumps(json.dumps(stack.api + '/codec'))});"
                "localStorage.setItem('includeCredentials', 'true');"
                "localStorage.setItem('overrideRemoteCodecConfiguration', 'true');"
            )  # the UI's codec settings, as an operator sets them once
            signed_in = await context.request.post(
                f"{stack.api}/auth/session", form={"username": OPERATOR, "password": PASSWORD}
            )
            assert signed_in.status == 204
            page = await context.new_page()
            ui = f"http://127.0.0.1:{stack.ui_port}/namespaces/default/workflows/claim-{claim_id}"
            await page.goto(ui)
            await page.get_by_text("Contoso Software GmbH").first.wait_for()  # decoded input
            await send_update_in_the_web_ui(page, decision(claim_id, "from the web ui"))
        finally:
            await browser.close()
    await poll(http, f"/claims/{claim_id}", program.reseller, "REJECTED")
    assert await rejected_by(stack, claim_id) == OPERATOR
