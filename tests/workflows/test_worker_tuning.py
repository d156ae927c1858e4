"""Issue 16: a worker tuned for its load. The pure modules pass through the sandbox (the workflow
module stays sandboxed), a worker takes no more activity tasks than it has threads for (so a
second worker process on the task queue gets the rest), and its pollers are settings."""

from __future__ import annotations

import uuid

from temporalio.testing import WorkflowEnvironment

from cashback.temporal import PURE_MODULES, claim_worker, workflow_runner
from tests.decisions import decision_key
from tests.workflows.claims import Program


def test_the_pure_modules_pass_through_and_the_workflow_module_does_not() -> None:
    passthrough = workflow_runner().restrictions.passthrough_modules
    assert set(PURE_MODULES) <= passthrough
    assert {"cashback.domain", "cashback.claims", "activities", "pydantic"} <= passthrough
    assert not {"workflows", "workflows.claim", "cashback", "cashback.db"} & passthrough


async def test_a_worker_takes_no_more_activity_tasks_than_it_has_threads(
    env: WorkflowEnvironment,
) -> None:
    program = Program(env=env, task_queue=f"claims-{uuid.uuid4()}")
    worker = claim_worker(
        env.client,
        program.activities(),
        decision_key=decision_key(),
        task_queue=program.task_queue,
        max_activity_threads=6,
        workflow_task_pollers=3,
        activity_task_pollers=2,
    )
    config = worker.config()
    assert config.get("max_concurrent_activities") == 6
    assert config.get("max_concurrent_workflow_task_polls") == 3
    assert config.get("max_concurrent_activity_task_polls") == 2
