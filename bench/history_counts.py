"""Round trips per claim (issue 16): what a claim costs the Temporal server, counted from its
history. For each history (a JSON file as `temporal workflow show --output json` or
`WorkflowHistory.to_json` writes it, e.g. the fixtures in tests/workflows/histories/) it prints
the events in all, the activity tasks (each one scheduled, started and completed event and two
round trips through the server: the worker polls the task, then reports its result), the local
activities (one marker each, run by the worker inside a workflow task), the workflow tasks and
the timers. It asserts nothing.

    python -m bench.history_counts HISTORY.json [HISTORY.json ...]
    python -m bench.history_counts --compare BEFORE_FOLDER AFTER_FOLDER NAME [NAME ...]
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path
from typing import Any

from bench.load import table

COLUMNS = [
    "history",
    "events",
    "activity tasks",
    "local activities",
    "other markers",
    "workflow tasks",
    "timers",
    "activity tasks by type",
]


def _marker_is_local_activity(event: dict[str, Any]) -> bool:
    return bool(
        event.get("markerRecordedEventAttributes", {}).get("markerName") == "core_local_activity"
    )


def counts(history: dict[str, Any]) -> dict[str, Any]:
    """The figures of one history (its JSON, as a dict)."""
    events: list[dict[str, Any]] = history["events"]
    kinds = Counter(event["eventType"].removeprefix("EVENT_TYPE_") for event in events)
    by_type: Counter[str] = Counter()
    for event in events:
        scheduled = event.get("activityTaskScheduledEventAttributes")
        if scheduled:
            by_type[scheduled["activityType"]["name"].rsplit(".", 1)[-1]] += 1
    local = sum(1 for event in events if _marker_is_local_activity(event))
    return {
        "events": len(events),
        "activity tasks": kinds["ACTIVITY_TASK_SCHEDULED"],
        "local activities": local,
        "other markers": kinds["MARKER_RECORDED"] - local,
        "workflow tasks": kinds["WORKFLOW_TASK_COMPLETED"],
        "timers": kinds["TIMER_STARTED"],
        "activity tasks by type": ", ".join(f"{name} {n}" for name, n in sorted(by_type.items())),
    }


def _row(name: str, path: Path) -> list[Any]:
    figures = counts(json.loads(path.read_text()))
    return [name, *(figures[column] for column in COLUMNS[1:])]


def main() -> None:
    parse = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parse.add_argument("histories", nargs="*", type=Path)
    parse.add_argument(
        "--compare",
        nargs="+",
        metavar="ARG",
        help="BEFORE_FOLDER AFTER_FOLDER NAME...: each named history (its file stem) in both",
    )
    options = parse.parse_args()
    rows = [_row(path.stem, path) for path in options.histories]
    if options.compare:
        before, after, *names = options.compare
        for name in names:
            for label, folder in (("before", Path(before)), ("after", Path(after))):
                rows.append(_row(f"{name} ({label})", folder / f"{name}.json"))
    print(table(COLUMNS, rows))


if __name__ == "__main__":
    main()
