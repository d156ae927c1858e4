"""The webhook delivery workflow's histories as replay fixtures (`tests/webhooks/histories/`,
replayed by `test_replay.py`). With CASHBACK_RECORD_HISTORIES=1 the tests that call
`keep_history` save the history of the delivery workflow they drove."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from temporalio.client import WorkflowExecutionStatus

from tests.api.harness import Api
from workflows.webhooks import delivery_workflow_id

HISTORIES = Path(__file__).parent / "histories"
RECORD = os.environ.get("CASHBACK_RECORD_HISTORIES") == "1"


async def keep_history(api: Api, endpoint_id: str, claim_id: str, name: str) -> None:
    """Once the (endpoint, claim) delivery workflow has ended, its history as a fixture."""
    if not RECORD:
        return
    handle = api.env.client.get_workflow_handle(delivery_workflow_id(endpoint_id, claim_id))
    for _ in range(200):
        if (await handle.describe()).status is not WorkflowExecutionStatus.RUNNING:
            break
        await asyncio.sleep(0.05)
    history = await handle.fetch_history()
    HISTORIES.mkdir(exist_ok=True)
    (HISTORIES / f"{name}.json").write_text(history.to_json())
