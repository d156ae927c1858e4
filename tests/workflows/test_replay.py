"""Determinism: histories of the main lifecycle paths, recorded from the workflow code and kept
as fixtures, replay against today's code. A change that would break claims in flight fails here.

`histories/` holds the paths as today's code runs them; `histories/before-<patch>/` the same
paths recorded before a patched change (docs/workflow-changes.md), kept until the patch is
removed: claims started then must still replay. Record today's again with:
    CASHBACK_RECORD_HISTORIES=1 .venv/bin/pytest tests/workflows
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory

from worker import replayer

FOLDER = Path(__file__).parent / "histories"
HISTORIES = sorted(FOLDER.rglob("*.json"))
MAIN_PATHS = {
    "test_r7_r8_r10_r14_d3_approved_claim_is_paid",
    "test_r8_operator_rejection_with_reasons",
    "test_r10_no_bank_details_after_notice_3_cancels_on_day_15",
    "test_r12_an_individuals_account_cancels_the_claim",
    "test_r16_updated_bank_details_are_paid_under_a_new_key",
    "test_r9_deadline_escalates_an_inconclusive_claim",
}
RECORDED = {path: path.read_text() for path in HISTORIES}


def names_in(folder: Path) -> set[str]:
    return {path.stem.rsplit("-", 1)[0] for path in folder.glob("*.json")}


def test_replay_fixtures_cover_the_main_paths() -> None:
    """The fixtures cover paid, rejected, cancelled (R10, R12, R16) and escalated (R9) claims,
    today's and those recorded before each patch still in the code; today's also the claim
    paid to details confirmed for all claims (R10)."""
    assert MAIN_PATHS | {"test_r10_confirmed_details_are_paid_without_a_request"} <= names_in(
        FOLDER
    )
    for before_patch in (path for path in FOLDER.iterdir() if path.is_dir()):
        assert names_in(before_patch) >= MAIN_PATHS, before_patch.name


@pytest.mark.parametrize("path", HISTORIES, ids=[str(p.relative_to(FOLDER)) for p in HISTORIES])
async def test_recorded_history_replays(path: Path) -> None:
    """Every recorded claim history replays without a nondeterminism error."""
    history = WorkflowHistory.from_json(path.stem, RECORDED[path])
    await replayer().replay_workflow(history)
