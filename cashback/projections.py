"""The read model of claims that were running before it existed: each such claim's workflow is
asked once for its state, which is projected onto the claim's row as its next timeline entry
would (`python -m api.cli project-claims`). Pages never ask workflows; this one-off does."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from temporalio.client import Client, WorkflowQueryFailedError
from temporalio.service import RPCError

from cashback.claims import ClaimState, claim_workflow_id
from cashback.db import ClaimRepository, Database
from cashback.db.tables import Claim, TimelineRow
from cashback.domain.status import ClaimStatus


@dataclass
class Backfill:
    projected: list[str] = field(default_factory=list)
    unanswered: list[str] = field(default_factory=list)


async def project_running_claims(database: Database, temporal: Client) -> Backfill:
    """Project every open claim whose row has no read model yet (`projected_sequence` 0)."""
    with database.reading() as session:
        claim_ids = list(
            session.scalars(
                select(Claim.id).where(
                    Claim.projected_sequence == 0,
                    Claim.status.not_in([status for status in ClaimStatus if status.is_final]),
                )
            )
        )
    done = Backfill()
    for claim_id in claim_ids:
        handle = temporal.get_workflow_handle(claim_workflow_id(claim_id))
        try:
            state = await handle.query("state", result_type=ClaimState)
        except (RPCError, WorkflowQueryFailedError):
            done.unanswered.append(claim_id)
            continue
        with database.transaction() as session:
            sequence = session.scalar(
                select(func.max(TimelineRow.sequence)).where(TimelineRow.claim_id == claim_id)
            )
            ClaimRepository(session).project(claim_id, sequence or 1, state.projection())
        done.projected.append(claim_id)
    return done
