"""Issue 16: `bench.history_counts` counts what a claim costs the Temporal server from its
history; checked on the recorded fixtures of the paid claim without a human step, before and
after `timeline-as-local-activity` (the history as recorded then is kept in
`before-verification-of-payee/`), before and after `verification-of-payee` (issue 14; the
history as recorded then is kept in `before-notices-as-local-activity/`), and before and after
`notices-as-local-activity` (issue 16), on that path and on R16's."""

from __future__ import annotations

import json
from base64 import b64decode
from pathlib import Path
from typing import Any

from bench.history_counts import counts
from workflows.claim import LOCAL_NOTICES, RETURNS_AFTER_PAID, VERIFICATION_OF_PAYEE

HISTORIES = Path(__file__).parent / "workflows" / "histories"
PAID = "test_r10_confirmed_details_are_paid_without_a_request-0.json"
R16_PAID = "test_r16_updated_bank_details_are_paid_under_a_new_key-0.json"
R16_CANCELLED = "test_r16_rejected_payment_three_unanswered_notices_cancel-0.json"
BEFORE_LOCAL_NOTICES = "before-notices-as-local-activity"


def patches(history: dict[str, Any]) -> set[str]:
    """The patch ids whose markers a recorded history (its JSON) carries."""
    found = set()
    for event in history["events"]:
        marker = event.get("markerRecordedEventAttributes", {})
        if marker.get("markerName") == "core_patch":
            data = marker["details"]["patch-data"]["payloads"][0]["data"]
            found.add(json.loads(b64decode(data))["id"])
    return found


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
    task, its timeline entry (a local activity) and the patch's marker. (The later recording
    also carries `returns-after-paid`'s marker, asked when the payout is paid, R16.)"""
    before_history = json.loads((HISTORIES / "before-verification-of-payee" / PAID).read_text())
    after_history = json.loads((HISTORIES / BEFORE_LOCAL_NOTICES / PAID).read_text())
    before, after = counts(before_history), counts(after_history)
    assert "verify" not in before["activity tasks by type"]
    assert "verify 1" in after["activity tasks by type"]
    assert after["activity tasks"] - before["activity tasks"] == 1
    assert after["local activities"] - before["local activities"] == 1
    assert patches(after_history) - patches(before_history) == {
        VERIFICATION_OF_PAYEE,
        RETURNS_AFTER_PAID,
    }
    assert after["other markers"] - before["other markers"] == 2


def test_d3_r16_the_notices_move_from_activity_tasks_to_local_activities() -> None:
    """Issue 16: every notice (3 on the paid path without a human step, 5 and 7 on R16's) is a
    local activity's marker instead of an activity task, plus the patch's marker; the claim
    needs fewer workflow tasks and its history is shorter."""
    for name, notices in ((PAID, 3), (R16_PAID, 5), (R16_CANCELLED, 7)):
        before_history = json.loads((HISTORIES / BEFORE_LOCAL_NOTICES / name).read_text())
        after_history = json.loads((HISTORIES / name).read_text())
        before, after = counts(before_history), counts(after_history)
        assert f"send_notice {notices}" in before["activity tasks by type"], name
        assert "send_notice" not in after["activity tasks by type"], name
        assert before["activity tasks"] - after["activity tasks"] == notices, name
        assert after["local activities"] - before["local activities"] == notices, name
        assert patches(after_history) - patches(before_history) == {LOCAL_NOTICES}, name
        assert after["other markers"] - before["other markers"] == 1, name
        assert after["events"] < before["events"], name
        assert after["workflow tasks"] < before["workflow tasks"], name
