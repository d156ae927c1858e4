"""D3: the `decide` update takes only decisions the program signed for a signed-in operator,
for this claim, minutes ago (cashback/decisions.py); the timeline then names that operator."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from cashback.claims import ClaimInput, Decision, DecisionKind
from cashback.decisions import DecisionKey
from cashback.domain.status import ClaimStatus
from tests.decisions import signed
from tests.workflows.claims import Program, claim_input, licensing_record
from workflows.claim import ClaimWorkflow

FORGER = "olga@program.example"  # an address with no account
REJECT = Decision(kind=DecisionKind.REJECT, operator="ops@program.example", reasons=("illegible",))


async def under_review(program: Program) -> tuple[ClaimInput, WorkflowHandle[Any, Any]]:
    program.add_record(licensing_record())
    claim = claim_input()
    handle = await program.submit(claim)
    await program.wait_for(handle, ClaimStatus.UNDER_REVIEW)
    return claim, handle


async def refusal(handle: WorkflowHandle[Any, Any], decision: Decision) -> str:
    """The validator's message for `decision`, sent as it is (no signing on the way)."""
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(ClaimWorkflow.decide, decision)
    return str(refused.value.cause)


async def test_d3_the_validator_refuses_each_kind_of_unproven_decision(program: Program) -> None:
    """D3: refused, each with why and how to decide instead: an unsigned decision; one changed
    after signing (its reasons, its operator); a made-up operator signed with a key that is
    not the program's; one signed for another claim; one dated ahead; one sent after ten
    minutes. The claim stays under review, and a decision the program signed then decides it,
    recorded under the operator it was signed for."""
    claim, handle = await under_review(program)
    good = program.signed(handle, REJECT)
    now = good.issued_at
    assert now is not None
    forged_key = DecisionKey(os.urandom(32))
    cases = {
        "unsigned": (REJECT, "not signed by the program"),
        "reasons changed": (
            good.model_copy(update={"reasons": ("something else",)}),
            "changed after it was signed",
        ),
        "operator changed": (
            good.model_copy(update={"operator": FORGER}),
            "changed after it was signed",
        ),
        "made-up operator": (
            forged_key.sign(REJECT, claim_id=claim.claim_id, operator=FORGER, issued_at=now),
            "not signed by this program",
        ),
        "another claim": (
            signed(REJECT, "another-claim"),
            f"signed for claim another-claim, not for this claim ({claim.claim_id})",
        ),
    }
    for name, (decision, why) in cases.items():
        message = await refusal(handle, decision)
        assert why in message, (name, message)
        assert f"POST /operator/claims/{claim.claim_id}/decision" in message, (name, message)

    ahead = await refusal(handle, signed(REJECT, claim.claim_id, skipped=timedelta(minutes=5)))
    assert "later than now" in ahead  # dated ahead to outlive its ten minutes
    await program.fast_forward(handle, timedelta(minutes=11))  # the signed one, replayed late
    late = await refusal(handle, good)
    assert "more than 10 minutes ago" in late
    assert f"POST /operator/claims/{claim.claim_id}/decision" in late

    assert (await program.state(handle)).status is ClaimStatus.UNDER_REVIEW
    state = await program.decide(handle, REJECT)  # signed now, by the claim's clock
    assert state.status is ClaimStatus.REJECTED
    await handle.result()
    assert program.status_changes(claim)[-1].actor == "ops@program.example"
    assert FORGER not in [entry.actor for entry in program.timeline_of(claim)]


async def test_d3_a_decision_typed_into_the_cli_is_refused(
    program: Program, env: WorkflowEnvironment, temporal_cli: Path
) -> None:
    """D3: the `temporal` CLI without the codec sends the JSON as typed, naming any operator:
    refused as unsigned, saying how to decide; the claim stays under review, no one is
    recorded."""
    claim, handle = await under_review(program)
    typed = {"kind": "reject", "operator": FORGER, "reasons": ["forged"]}
    command = [
        str(temporal_cli), "workflow", "update", "execute",
        "--address", env.client.service_client.config.target_host,
        "--namespace", env.client.namespace,
        "--workflow-id", handle.id, "--name", "decide", "--input", json.dumps(typed),
    ]  # fmt: skip
    sent = await asyncio.to_thread(
        subprocess.run, command, capture_output=True, text=True, timeout=60
    )
    assert sent.returncode != 0, sent.stdout
    assert "not signed by the program" in sent.stdout + sent.stderr
    assert f"POST /operator/claims/{claim.claim_id}/decision" in sent.stdout + sent.stderr
    assert (await program.state(handle)).status is ClaimStatus.UNDER_REVIEW
    assert FORGER not in [entry.actor for entry in program.timeline_of(claim)]
