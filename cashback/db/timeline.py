"""The claim timeline (D3) in the database."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from activities.records import TimelineEntry
from cashback.db.claims import ClaimRepository
from cashback.db.session import Database
from cashback.db.statements import insert_unless_present
from cashback.db.tables import TimelineRow
from cashback.db.webhooks import WebhookOutbox


class TimelineRepository:
    """A claim's timeline within the caller's transaction (never commits)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def append(self, entry: TimelineEntry) -> bool:
        """Store `entry` unless its (claim_id, sequence) is already stored; True if stored."""
        return insert_unless_present(
            self._session,
            TimelineRow,
            {
                "claim_id": entry.claim_id,
                "sequence": entry.sequence,
                "at": entry.at,
                "actor": entry.actor,
                "event": entry.event,
                "from_status": entry.from_status,
                "to_status": entry.to_status,
                "reason": entry.reason,
            },
            keys=("claim_id", "sequence"),
        )

    def is_latest_change(self, entry: TimelineEntry) -> bool:
        """No later status change of the claim is stored (entries may arrive out of order)."""
        later = self._session.scalar(
            select(TimelineRow.sequence)
            .where(
                TimelineRow.claim_id == entry.claim_id,
                TimelineRow.sequence > entry.sequence,
                TimelineRow.to_status.is_not(None),
            )
            .limit(1)
        )
        return later is None

    def of(self, claim_id: str) -> list[TimelineEntry]:
        """D3: the claim's timeline, in order."""
        rows = self._session.scalars(
            select(TimelineRow)
            .where(TimelineRow.claim_id == claim_id)
            .order_by(TimelineRow.sequence)
        )
        return [
            TimelineEntry(
                claim_id=row.claim_id,
                sequence=row.sequence,
                at=row.at,
                actor=row.actor,
                event=row.event,
                from_status=row.from_status,
                to_status=row.to_status,
                reason=row.reason,
            )
            for row in rows
        ]


class SqlTimeline:
    """`activities.records.Timeline` on the database: one transaction per call, idempotent on
    (claim_id, sequence) so a retried activity never writes an entry twice (D3)."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def append(self, entry: TimelineEntry) -> None:
        """Store the entry and, in the same transaction, project the claim as it stands onto
        its row (the read model), so every page and list reads the database, not the
        workflows. An entry without a projection (a claim that started before the read model)
        still projects its status change."""
        with self._database.transaction() as session:
            timeline = TimelineRepository(session)
            stored = timeline.append(entry)
            claims = ClaimRepository(session)
            if entry.projection is not None:
                claims.project(entry.claim_id, entry.sequence, entry.projection)
            elif stored and entry.to_status is not None and timeline.is_latest_change(entry):
                claims.set_status(entry.claim_id, entry.to_status, entry.amount)
            if stored:  # events are the projection's changes, in its transaction (issue 17)
                WebhookOutbox(session).record_entry(entry)

    def of(self, claim_id: str) -> list[TimelineEntry]:
        """D3: the claim's timeline, in order."""
        with self._database.reading() as session:
            return TimelineRepository(session).of(claim_id)
