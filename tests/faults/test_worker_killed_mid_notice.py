"""R7, R10 (issue 16): a worker killed in the middle of a notice sent as a local activity
mails nobody twice and loses no claim.

Real processes, as in tests/faults/test_worker_killed_mid_payment.py. Claims are approved on the
barrier worker (tests/faults/barrier_worker.py with `FAULT_BARRIER_NOTICE=bank_details_request`):
the real outbox sends each bank-details request (the mail server takes it, the notice log holds
it), then the mail activity, a local activity inside the claim's workflow task, is held. When
every claim is at the barrier, the worker is SIGKILLed and a normal `python worker.py` started:
the workflow task times out, the new worker runs it again, local activity included, and the
notice log answers with the first receipt. The claims are given their bank details and paid;
the mail server must hold one e-mail per notice. (Not the final confirmation: the operator's
`decide` answers once the claim has left review, which is after that e-mail.)
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import timedelta

import pytest

from cashback.domain.policy import ProgramPolicy
from cashback.domain.status import ClaimStatus, NoticeKind
from tests.faults.processes import FaultProgram, poll_until

pytestmark = [pytest.mark.faults, pytest.mark.e2e]

CLAIMS = 5
POLICY = ProgramPolicy(return_window_days=0, bank_answer_within=timedelta(seconds=10))


async def test_r7_r10_worker_killed_mid_notice_mails_each_notice_once(
    program: FaultProgram,
) -> None:
    """R7, R10: SIGKILL after the bank-details request was mailed and before its local
    activity completed; the new worker's re-run sends nothing, and every claim is paid."""
    queue = f"{program.settings.task_queue}-notice"
    barrier = program.data_dir / "barrier-notice"
    doomed = program.start_barrier_worker(
        barrier,
        threads=CLAIMS + 16,
        name="barrier-notice",
        task_queue=queue,
        notice=NoticeKind.BANK_DETAILS_REQUEST,
    )
    seeded = program.seed(CLAIMS, POLICY)
    ids = [claim.claim_id for claim in seeded]
    # The killed worker's workflow task times out after 3 s instead of 10 (the SDK keeps a task
    # alive while its local activity runs: 80 % of this, then a new task).
    await program.submit(seeded, task_queue=queue, task_timeout=timedelta(seconds=3))
    await program.as_they_reach(ids, ClaimStatus.UNDER_REVIEW, program.approve)
    await poll_until(
        lambda: all((barrier / claim).exists() for claim in ids),
        120,
        "every bank-details request at the barrier",
    )
    requests = Counter(
        key.split("/")[0] for key in program.mails_per_notice() if "/bank_details_request/" in key
    )
    assert all(requests[claim] == 1 for claim in ids), "mailed before the kill"

    doomed.kill()
    killed_at = time.monotonic()
    replacement = program.start_worker("worker-notice", task_queue=queue)
    await program.as_they_reach(ids, ClaimStatus.AWAITING_BANK_DETAILS, program.give_bank_details)
    outcomes = await program.outcomes(ids, seconds=120)
    replacement.stop()
    print(f"R7 worker killed mid-notice: {CLAIMS} claims paid {time.monotonic() - killed_at:.1f}s")

    assert all(o is not None and o.status is ClaimStatus.PAID for o in outcomes.values())
    mails = program.mails_per_notice()
    assert [key for key, sent in mails.items() if sent != 1] == []
    for claim in ids:
        kinds = sorted(key.split("/")[1] for key in mails if key.startswith(f"{claim}/"))
        assert kinds == [
            "bank_details_request",
            "final_confirmation",
            "preliminary_confirmation",
            "remittance_advice",
        ], claim
