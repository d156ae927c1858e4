"""Fixtures of the fault tests: the program on real processes (tests/faults/processes.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cashback.domain.policy import ProgramPolicy
from tests.faults.processes import FaultProgram, fault_program


@pytest.fixture
async def program(tmp_path: Path) -> AsyncIterator[FaultProgram]:
    """A dev server on a file database, the migrated SQLite database and the local mail server,
    in tmp_path and on free ports; the test starts (and kills) the workers. The policy of each
    claim travels in its input (`seed`); this one is the workers' (their e-mails' wording)."""
    async with fault_program(tmp_path / "var", ProgramPolicy(return_window_days=0)) as started:
        yield started
