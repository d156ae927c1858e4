"""Waiting on a claim's workflow in tests. Every wait has a time limit, and a wait that runs out
fails naming where the claim stood at that moment: its `state` query and its last history
events. A change that makes a workflow hang then fails one test in seconds, with a reason,
instead of stalling the suite."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any, TypeVar

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import WorkflowHandle, WorkflowUpdateRPCTimeoutOrCancelledError

from cashback.claims import ClaimState
from workflows.claim import ClaimWorkflow

T = TypeVar("T")

OUTCOME_SECONDS = 60.0  # a claim that has nothing left to wait for ends in a few seconds
LAST_EVENTS = 8
_ANSWER_SECONDS = 5.0  # a query needs a running worker; without one it would wait long


class ClaimStuck(AssertionError):
    """A wait on a claim's workflow ran out of time; the message says where the claim stood."""


async def claim_outcome(handle: WorkflowHandle[Any, T], seconds: float = OUTCOME_SECONDS) -> T:
    """The workflow's result, or ClaimStuck after `seconds` naming the claim's state."""
    try:
        async with asyncio.timeout(seconds):
            return await handle.result()
    except TimeoutError:
        where = await where_the_claim_stands(handle)
        raise ClaimStuck(
            f"claim workflow {handle.id} did not end within {seconds:g} s; {where}"
        ) from None


UPDATE_SECONDS = 30.0  # an accepted update answers once the claim has taken its next step


async def claim_update(
    handle: WorkflowHandle[Any, Any], update: Any, arg: Any, seconds: float = UPDATE_SECONDS
) -> Any:
    """`handle.execute_update(update, arg)`, or ClaimStuck after `seconds` naming the claim's
    state: an accepted update (a decision, bank details) waits for the workflow to act on it,
    and a workflow that never does would hold the test until the suite's limit."""
    try:
        async with asyncio.timeout(seconds):
            return await handle.execute_update(update, arg)
    except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):  # the SDK's word for it
        where = await where_the_claim_stands(handle, min(seconds, _ANSWER_SECONDS))
        name = getattr(update, "__name__", update)
        raise ClaimStuck(
            f"update {name} of claim workflow {handle.id} got no answer within {seconds:g} s; "
            f"{where}"
        ) from None


async def claim_state_until(
    handle: WorkflowHandle[Any, Any],
    settled: Callable[[ClaimState], bool],
    expected: str,
    seconds: float = 30,
) -> ClaimState:
    """Poll the claim's `state` query until `settled` holds; ClaimStuck after `seconds` naming
    what was `expected` and where the claim stood."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        state: ClaimState | None = None
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(deadline - loop.time(), 0.1)):
                state = await handle.query(ClaimWorkflow.state)
        if state is not None and settled(state):
            return state
        if loop.time() > deadline:
            where = await where_the_claim_stands(handle)
            raise ClaimStuck(
                f"claim workflow {handle.id} did not reach {expected} within {seconds:g} s; {where}"
            )
        await asyncio.sleep(0.05)


async def where_the_claim_stands(
    handle: WorkflowHandle[Any, Any], answer_seconds: float = _ANSWER_SECONDS
) -> str:
    """The claim's state (status, what it waits for, notices sent) and its last history
    events, for a failure message. Each part is asked within `answer_seconds`."""
    try:
        async with asyncio.timeout(answer_seconds):
            state: ClaimState = await handle.query(ClaimWorkflow.state)
        notices = ", ".join(f"{n.kind.value} {n.number}" for n in state.notices) or "none"
        said = (
            f"state: status {state.status.value}, waiting for {state.waiting_for!r}, "
            f"escalated {state.escalated}, notices [{notices}]"
        )
    except Exception as error:  # what a stuck claim answers is part of the report
        said = f"state: no answer to the query ({type(error).__name__}: {error})"
    try:
        async with asyncio.timeout(answer_seconds):
            events = [event async for event in handle.fetch_history_events()]
        last = "; ".join(_event_line(event) for event in events[-LAST_EVENTS:])
        history = f"last history events: {last}"
    except Exception as error:
        history = f"history: not read ({type(error).__name__}: {error})"
    return f"{said}; {history}"


def _event_line(event: HistoryEvent) -> str:
    """`12 TIMER_STARTED (86400s)`: the event's id, type and the detail that tells most."""
    name = EventType.Name(event.event_type).removeprefix("EVENT_TYPE_")
    detail = ""
    if event.HasField("activity_task_scheduled_event_attributes"):
        detail = event.activity_task_scheduled_event_attributes.activity_type.name
    elif event.HasField("timer_started_event_attributes"):
        timeout = event.timer_started_event_attributes.start_to_fire_timeout
        detail = f"{timeout.seconds}s"
    elif event.HasField("workflow_task_failed_event_attributes"):
        detail = event.workflow_task_failed_event_attributes.failure.message
    elif event.HasField("activity_task_failed_event_attributes"):
        detail = event.activity_task_failed_event_attributes.failure.message
    elif event.HasField("workflow_execution_update_accepted_event_attributes"):
        accepted = event.workflow_execution_update_accepted_event_attributes
        detail = accepted.accepted_request.input.name
    return f"{event.event_id} {name}" + (f" ({detail})" if detail else "")
