from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.testing._timeskipping import TimeSkippingConfig

from cashback.search_attributes import CLAIM_SEARCH_ATTRIBUTES
from tests.workflows.claims import Program, running_program


@pytest.fixture(scope="session")
async def env(temporal_cli: Path) -> AsyncIterator[WorkflowEnvironment]:
    """A dev server (the `temporal` CLI from pip) with per-workflow time skipping: the Java
    test server has no custom search attributes, which the claim workflow upserts. Time only
    moves fast when a test fast-forwards one workflow by an exact duration."""
    env = await WorkflowEnvironment.start_time_skipping_v2(
        ts_config=TimeSkippingConfig(enabled=False),
        dev_server_existing_path=str(temporal_cli),
        dev_server_extra_args=[
            "--dynamic-config-value",
            "frontend.WorkflowTimeSkippingEnabled=true",
        ],
        search_attributes=CLAIM_SEARCH_ATTRIBUTES,
        data_converter=pydantic_data_converter,
    )
    yield env
    await env.shutdown()


@pytest.fixture
async def program(
    env: WorkflowEnvironment, request: pytest.FixtureRequest
) -> AsyncIterator[Program]:
    """The claim workflow with in-memory dependencies; afterwards every claim the test ran is
    replayed. With CASHBACK_RECORD_HISTORIES=1 their histories are saved as replay fixtures."""
    save_as = request.node.name if os.environ.get("CASHBACK_RECORD_HISTORIES") else None
    async with running_program(env, save_as) as program:
        yield program
