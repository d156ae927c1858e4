"""The entry points are leaves: `worker.py`, `uvicorn api.main:app`, `cashback/run.py` and the
benchmarks import the core; the core (cashback, workflows, activities) and the API import no
entry point, so the Temporal client and the data converter live in the core."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# `make run` and `make demo`: entry points that compose the API with the rest.
ENTRY_POINTS = {ROOT / "cashback" / "run.py", ROOT / "cashback" / "demo.py"}


def imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_no_package_imports_the_worker_entry_point() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for package in ("cashback", "workflows", "activities", "api")
        for path in (ROOT / package).rglob("*.py")
        if "worker" in imported_modules(path)
    ]
    assert offenders == []


def test_the_core_imports_no_api_module() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for package in ("cashback", "workflows", "activities")
        for path in (ROOT / package).rglob("*.py")
        if path not in ENTRY_POINTS
        and any(module == "api" or module.startswith("api.") for module in imported_modules(path))
    ]
    assert offenders == []


def test_no_route_asks_a_workflow_for_its_state() -> None:
    """The workflow writes, people read the database: no module of the API calls a workflow
    query (the `state` query is for debugging in the Temporal UI and for the one-off
    `project-claims`)."""
    offenders = []
    for path in (ROOT / "api").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "query"
                and not (isinstance(node.func.value, ast.Name) and node.func.value.id == "session")
            ):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []
