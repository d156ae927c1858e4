"""Determinism: histories of the main lifecycle paths, recorded from the workflow code and kept
as fixtures, replay against today's code. A change that would break claims in flight fails here.

Record them again (after a deliberate, versioned change) with:
    CASHBACK_RECORD_HISTORIES=1 .venv/bin/pytest tests/workflows
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory

from worker import replayer

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))
RECORDED = {path: path.read_text() for path in HISTORIES}


def test_replay_fixtures_cover_the_main_paths() -> None:
    """The fixtures cover paid, rejected, cancelled (R10, R12, R16) and escalated (R9) claims."""
    names = {path.stem.rsplit("-", 1)[0] for path in HISTORIES}
    assert {
        "test_r7_r8_r10_r14_d3_approved_claim_is_paid",
        "test_r8_operator_rejection_with_reasons",
        "test_r10_no_bank_details_after_notice_3_cancels_on_day_15",
        "test_r12_an_individuals_account_cancels_the_claim",
        "test_r16_updated_bank_details_are_paid_under_a_new_key",
        "test_r9_deadline_escalates_an_inconclusive_claim",
    } <= names


@pytest.mark.parametrize("path", HISTORIES, ids=[path.stem for path in HISTORIES])
async def test_recorded_history_replays(path: Path) -> None:
    """Every recorded claim history replays without a nondeterminism error."""
    history = WorkflowHistory.from_json(path.stem, RECORDED[path])
    await replayer().replay_workflow(history)
