"""Determinism of the webhook delivery workflow (docs/workflow-changes.md): recorded histories
of its paths (every event delivered in turn; retries until the receiver is back; an event
redelivered on request; an endpoint given up on and disabled) replay against today's code.
Record them again with `CASHBACK_RECORD_HISTORIES=1 pytest tests/webhooks`."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from cashback.temporal import workflow_runner
from tests.webhooks.histories import HISTORIES
from workflows.webhooks import WebhookDeliveryWorkflow

RECORDED = {path: path.read_text() for path in sorted(HISTORIES.glob("*.json"))}
PATHS = {
    "delivered_in_order",
    "retried_until_the_receiver_is_back",
    "redelivered_on_request",
    "given_up_and_disabled",
}


def test_the_fixtures_cover_the_delivery_paths() -> None:
    assert {path.stem for path in RECORDED} >= PATHS


@pytest.mark.parametrize("path", RECORDED, ids=[path.stem for path in RECORDED])
async def test_recorded_delivery_history_replays(path: Path) -> None:
    """Every recorded delivery history replays without a nondeterminism error."""
    replayer = Replayer(
        workflows=[WebhookDeliveryWorkflow],
        data_converter=pydantic_data_converter,
        workflow_runner=workflow_runner(),
    )
    history = WorkflowHistory.from_json(path.stem, RECORDED[path])
    await replayer.replay_workflow(history)
