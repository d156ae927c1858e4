"""Notices are sent once per (claim, kind, number): the log of notices sent is idempotent, so a
retried mail activity finds the first receipt instead of sending again (R10, R16)."""

from __future__ import annotations

from datetime import timedelta

from activities.mail import NoticeFacts, NoticeLog, NoticeReceipt, NoticeRequest
from cashback.db import Database, NoticeRepository, SqlNoticeLog
from cashback.domain.reseller import Language, ResellerSnapshot
from cashback.domain.status import NoticeKind
from tests.db.seed import NOW, add_claims

RESELLER = ResellerSnapshot(
    reseller_id="reseller-1",
    company_name="Acme Software GmbH",
    country="DE",
    language=Language.GERMAN,
    email="claims@acme.example",
)


def _request(number: int) -> NoticeRequest:
    return NoticeRequest(
        claim_id="claim-1",
        kind=NoticeKind.BANK_DETAILS_REQUEST,
        number=number,
        reseller=RESELLER,
        respond_by=NOW + timedelta(days=5),
        facts=NoticeFacts(agreement_number="OL-1", offer_name="Office cash back"),
    )


def test_r10_notice_log_remembers_each_notice_once(database: Database) -> None:
    with database.transaction() as session:
        add_claims(session, "claim-1")
    log: NoticeLog = SqlNoticeLog(database)
    first, second = _request(1), _request(2)
    receipt = NoticeReceipt(message_id="<1@cashback.example>", sent_at=NOW)

    assert log.receipt_for(first.idempotency_key) is None
    log.record(first, receipt)
    log.record(first, NoticeReceipt(message_id="<retry@cashback.example>", sent_at=NOW))
    log.record(second, NoticeReceipt(message_id="<2@cashback.example>", sent_at=NOW))

    assert log.receipt_for(first.idempotency_key) == receipt
    assert log.receipt_for("claim-1/bank_details_request/3") is None
    with database.reading() as session:
        sent = NoticeRepository(session).of("claim-1")
    assert [(n.kind, n.number, n.message_id) for n in sent] == [
        (NoticeKind.BANK_DETAILS_REQUEST, 1, "<1@cashback.example>"),
        (NoticeKind.BANK_DETAILS_REQUEST, 2, "<2@cashback.example>"),
    ]
    assert sent[0].respond_by == NOW + timedelta(days=5)
