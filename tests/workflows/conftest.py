from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
from temporalio.testing import WorkflowEnvironment

from tests.workflows.claims import Program, running_program


@pytest.fixture
async def program(
    env: WorkflowEnvironment, request: pytest.FixtureRequest
) -> AsyncIterator[Program]:
    """The claim workflow with in-memory dependencies; afterwards every claim the test ran is
    replayed. With CASHBACK_RECORD_HISTORIES=1 their histories are saved as replay fixtures."""
    save_as = request.node.name if os.environ.get("CASHBACK_RECORD_HISTORIES") else None
    async with running_program(env, save_as) as program:
        yield program
