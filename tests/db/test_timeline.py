"""D3: every change of a claim's status is recorded (time, actor, reason) and listed in order;
a retried activity never records an entry twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import select

from activities.records import RecordsActivities, Timeline, TimelineEntry, TimelineEvent
from cashback.db import Database, SqlTimeline
from cashback.db.claims import ClaimRepository
from cashback.db.tables import TimelineRow
from cashback.domain.status import ClaimStatus
from tests.db.seed import NOW, add_claims


def _entry(sequence: int, reason: str = "", **changes: object) -> TimelineEntry:
    entry = TimelineEntry(
        claim_id="claim-1",
        sequence=sequence,
        at=NOW + timedelta(minutes=sequence),
        actor="system",
        event=TimelineEvent.STATUS_CHANGED,
        from_status=ClaimStatus.SUBMITTED,
        to_status=ClaimStatus.UNDER_REVIEW,
        reason=reason,
    )
    return entry.model_copy(update=changes)


def test_d3_timeline_lists_status_changes_with_time_actor_and_reason(database: Database) -> None:
    with database.transaction() as session:
        add_claims(session, "claim-1", "claim-2")
    timeline = SqlTimeline(database)
    berlin = timezone(timedelta(hours=1))
    second = _entry(
        2,
        "approved: all criteria met",
        actor="operator Jana",
        at=datetime(2026, 3, 3, 11, 0, tzinfo=berlin),
        from_status=ClaimStatus.UNDER_REVIEW,
        to_status=ClaimStatus.AWAITING_BANK_DETAILS,
    )
    first = _entry(1, "preliminary confirmation sent (R7)", from_status=None)
    timeline.append(second)
    timeline.append(first)
    timeline.append(_entry(1, "another claim's entry").model_copy(update={"claim_id": "claim-2"}))

    listed = timeline.of("claim-1")

    assert listed == [first, second]
    assert listed[1].at == datetime(2026, 3, 3, 10, 0, tzinfo=UTC)  # the same instant, in UTC
    assert listed[1].at.tzinfo is UTC


def test_d3_retried_append_records_the_entry_once(database: Database) -> None:
    """The activity is retried after it wrote: (claim_id, sequence) keeps the first entry."""
    with database.transaction() as session:
        add_claims(session, "claim-1")
    timeline: Timeline = SqlTimeline(database)  # mypy checks the contract (structural typing)
    activities = RecordsActivities(timeline)
    activities.append_timeline(_entry(1, "first attempt"))
    activities.append_timeline(_entry(1, "first attempt"))
    activities.append_timeline(_entry(1, "a retry that says something else"))

    with database.reading() as session:
        rows = session.scalars(select(TimelineRow)).all()
    assert [(row.sequence, row.reason) for row in rows] == [(1, "first attempt")]


def test_d3_status_changes_are_projected_onto_the_claim(database: Database) -> None:
    """D3: the claim row follows the latest status change, even when entries arrive out of
    order; events without a status change leave it alone."""
    with database.transaction() as session:
        add_claims(session, "claim-1")
    timeline = SqlTimeline(database)
    timeline.append(_entry(2, to_status=ClaimStatus.AWAITING_BANK_DETAILS))
    timeline.append(_entry(1, to_status=ClaimStatus.UNDER_REVIEW))
    timeline.append(
        _entry(3, event=TimelineEvent.BANK_DETAILS_RECEIVED, from_status=None, to_status=None)
    )
    with database.reading() as session:
        assert ClaimRepository(session).get("claim-1").status is (  # type: ignore[union-attr]
            ClaimStatus.AWAITING_BANK_DETAILS
        )
