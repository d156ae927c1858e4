"""Issue 16: a worker tuned for its load. The pure modules pass through the sandbox (the workflow
module stays sandboxed), a worker takes no more activity tasks than it has threads for (so a
second worker process on the task queue gets the rest), its pollers are settings, and the
sandbox compiles its code strings once and shares the workflow module's code."""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path

from temporalio.client import WorkflowHistory
from temporalio.testing import WorkflowEnvironment
from temporalio.worker.workflow_sandbox import _runner as sandbox_runner

import workflows.claim
from cashback import temporal
from cashback.temporal import PURE_MODULES, claim_worker, replayer, workflow_runner
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


async def test_the_sandbox_compiles_its_code_strings_once_and_histories_still_replay() -> None:
    """The SDK method the wrapper hands code objects to still has the shape it was made for (an
    upgrade that changes it fails here, and the wrapper stays off), and a claim replays
    through the wrapper: every activation and payload context after the first compiles
    nothing."""
    workflow_runner()
    assert temporal.compile_sandbox_code_once()
    assert getattr(sandbox_runner._Instance._run_code, "compiles_once", False)
    history = (
        Path(__file__).parent
        / "histories"
        / ("test_r10_confirmed_details_are_paid_without_a_request-0.json")
    )
    replay = WorkflowHistory.from_json("claim", json.loads(history.read_text()))
    await replayer().replay_workflow(replay)
    before = temporal._compiled.cache_info()
    await replayer().replay_workflow(replay)
    after = temporal._compiled.cache_info()
    assert after.hits > before.hits
    assert after.misses == before.misses


def test_the_sandbox_shares_the_workflow_modules_code_between_its_imports() -> None:
    """Each import of the workflow module by the sandbox gets a loader of its own, and all of
    them hand out one code object (immutable; each import still executes it into a module of
    its own): a cached claim keeps no copy of the code."""
    workflow_runner()
    finders = [f for f in sys.meta_path if isinstance(f, temporal._WorkflowCodeFinder)]
    assert len(finders) == 1  # installed once, however many runners are made
    first = finders[0].find_spec("workflows.claim", None)
    second = finders[0].find_spec("workflows.claim", None)
    assert first is not None
    assert second is not None
    assert first.loader is not second.loader
    code = first.loader.get_code("workflows.claim")  # type: ignore[union-attr]
    assert code is second.loader.get_code("workflows.claim")  # type: ignore[union-attr]
    assert code.co_filename == workflows.claim.__file__
    assert finders[0].find_spec("cashback.domain", None) is None  # only the workflow modules
