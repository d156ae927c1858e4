"""Issue 16: `bench.history_counts` counts what a claim costs the Temporal server from its
history; checked on the recorded fixtures of the paid claim without a human step, before and
after `timeline-as-local-activity` (the history as recorded then is kept in
`before-verification-of-payee/`), and before and after `verification-of-payee` (issue 14)."""

from __future__ import annotations

import json
from pathlib import Path

from bench.history_counts import counts

HISTORIES = Path(__file__).parent / "workflows" / "histories"
PAID = "test_r10_confirmed_details_are_paid_without_a_request-0.json"


def test_the_timeline_moves_from_activity_tasks_to_local_activities() -> None:
    before = counts(
        json.loads((HISTORIES / "before-timeline-as-local-activity" / PAID).read_text())
    )
    after = counts(json.loads((HISTORIES / "before-verification-of-payee" / PAID).read_text()))
    assert "append_timeline 6" in before["activity tasks by type"]
    assert "append_timeline" not in after["activity tasks by type"]
    assert before["activity tasks"] - after["activity tasks"] == 6
    assert after["local activities"] - before["local activities"] == 6
    assert after["other markers"] - before["other markers"] == 1  # the patch's marker
    assert after["events"] < before["events"]
    assert after["workflow tasks"] < before["workflow tasks"]


def test_vop_the_payee_check_costs_one_activity_task_one_entry_and_a_marker() -> None:
    """VoP: details confirmed for all claims are verified once: one `payee.verify` activity
    task, its timeline entry (a local activity) and the patch's marker."""
    before = counts(json.loads((HISTORIES / "before-verification-of-payee" / PAID).read_text()))
    after = counts(json.loads((HISTORIES / PAID).read_text()))
    assert "verify" not in before["activity tasks by type"]
    assert "verify 1" in after["activity tasks by type"]
    assert after["activity tasks"] - before["activity tasks"] == 1
    assert after["local activities"] - before["local activities"] == 1
    assert after["other markers"] - before["other markers"] == 1
