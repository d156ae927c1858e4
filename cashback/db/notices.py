"""The notices the outbox has sent, once per idempotency key (claim / kind / number)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from activities.mail import NoticeReceipt, NoticeRequest
from cashback.db.claims import ClaimRepository
from cashback.db.session import Database
from cashback.db.statements import insert_unless_present
from cashback.db.tables import NoticeSent
from cashback.db.webhooks import WebhookOutbox


class NoticeRepository:
    """Notices sent, within the caller's transaction (never commits)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def receipt_for(self, idempotency_key: str) -> NoticeReceipt | None:
        row = self._session.scalar(
            select(NoticeSent).where(NoticeSent.idempotency_key == idempotency_key)
        )
        if row is None:
            return None
        return NoticeReceipt(message_id=row.message_id, sent_at=row.sent_at)

    def record(self, notice: NoticeRequest, receipt: NoticeReceipt) -> bool:
        """Remember `notice` unless its key is known; True when this call recorded it."""
        return insert_unless_present(
            self._session,
            NoticeSent,
            {
                "idempotency_key": notice.idempotency_key,
                "claim_id": notice.claim_id,
                "kind": notice.kind,
                "number": notice.number,
                "message_id": receipt.message_id,
                "sent_at": receipt.sent_at,
                "respond_by": notice.respond_by,
            },
            keys=("idempotency_key",),
        )

    def of(self, claim_id: str) -> list[NoticeSent]:
        """The notices sent about a claim, oldest first."""
        return list(
            self._session.scalars(
                select(NoticeSent)
                .where(NoticeSent.claim_id == claim_id)
                .order_by(NoticeSent.sent_at, NoticeSent.id)
            )
        )


# How long `record` keeps trying when the database fails: the e-mail has gone out by then, and
# a Temporal retry of the activity would send it again (with the same Message-ID). Well inside
# the mail activity's timeout.
RECORD_WITHIN_SECONDS = 20.0


class SqlNoticeLog:
    """`activities.mail.NoticeLog` on the database: one transaction per call; a second
    `record` for the same idempotency key changes nothing. `record` comes after the e-mail was
    sent, so it rides out a database failure of up to `record_within` seconds in place."""

    def __init__(self, database: Database, *, record_within: float = RECORD_WITHIN_SECONDS) -> None:
        self._database = database
        self._record_within = record_within

    def receipt_for(self, idempotency_key: str) -> NoticeReceipt | None:
        with self._database.reading() as session:
            return NoticeRepository(session).receipt_for(idempotency_key)

    def record(self, notice: NoticeRequest, receipt: NoticeReceipt) -> None:
        """Remember the notice and, in the same transaction, project what it tells onto the
        claim (the read model): the review deadline it names, the instant it asks bank details
        by (R9, R10)."""

        def record(session: Session) -> None:
            if NoticeRepository(session).record(notice, receipt):
                ClaimRepository(session).project_notice(notice)
                WebhookOutbox(session).record_notice(notice, receipt.sent_at)

        self._database.write(record, within=self._record_within)
