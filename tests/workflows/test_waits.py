"""No test can hang: a wait on a claim that never comes fails within its limit, naming the claim's
state and its last history events (tests/claim_waits.py). These tests hang a claim on purpose
(under review, no operator deciding) and pass by catching that failure."""

from __future__ import annotations

import pytest

from cashback.claims import Decision, DecisionKind, claim_workflow_id
from cashback.domain.status import ClaimStatus
from tests.claim_waits import ClaimStuck, claim_update
from tests.workflows.claims import Program, claim_input, licensing_record
from workflows.claim import ClaimWorkflow


async def test_waiting_for_a_status_that_never_comes_fails_naming_the_state(
    program: Program,
) -> None:
    program.add_record(licensing_record())
    handle = await program.submit(claim_input())
    await program.wait_for(handle, ClaimStatus.UNDER_REVIEW)

    with pytest.raises(ClaimStuck) as stuck:
        await program.wait_for(handle, ClaimStatus.PAID, seconds=1)

    message = str(stuck.value)
    assert f"claim workflow {handle.id} did not reach PAID and waiting within 1 s" in message
    assert "state: status UNDER_REVIEW, waiting for 'R9: operator decision until" in message
    assert "notices [preliminary_confirmation 1]" in message
    assert "last history events: " in message
    assert "TIMER_STARTED" in message
    await handle.terminate("hung on purpose")


async def test_waiting_for_the_outcome_of_a_claim_that_never_ends_fails_naming_the_state(
    program: Program,
) -> None:
    program.add_record(licensing_record())
    handle = await program.submit(claim_input())
    await program.wait_for(handle, ClaimStatus.UNDER_REVIEW)

    with pytest.raises(ClaimStuck) as stuck:
        await program.outcome(handle, seconds=1)

    message = str(stuck.value)
    assert f"claim workflow {handle.id} did not end within 1 s" in message
    assert "state: status UNDER_REVIEW" in message
    assert "TIMER_STARTED" in message
    await handle.terminate("hung on purpose")


async def test_an_update_that_gets_no_answer_fails_naming_the_state(program: Program) -> None:
    """A decision sent to a claim that never acts on it (here: no worker serves its task queue,
    as with a workflow that waits for the wrong thing) fails within the update's limit, naming
    what the claim's history shows, instead of holding the test until the suite's limit."""
    claim = claim_input()
    handle = await program.env.client.start_workflow(
        ClaimWorkflow.run,
        claim,
        id=claim_workflow_id(claim.claim_id),
        task_queue=f"nobody-serves-{claim.claim_id}",
    )
    approve = Decision(kind=DecisionKind.APPROVE, operator="olga@program.example")

    with pytest.raises(ClaimStuck) as stuck:
        await claim_update(handle, ClaimWorkflow.decide, program.signed(handle, approve), 1)

    message = str(stuck.value)
    assert f"update decide of claim workflow {handle.id} got no answer within 1 s" in message
    assert "state: no answer to the query" in message
    assert "WORKFLOW_EXECUTION_STARTED" in message
    await handle.terminate("hung on purpose")
