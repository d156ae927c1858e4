"""Notices of every kind with every fact filled in, and an in-memory notice log."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from activities.mail import NoticeFacts, NoticeReceipt, NoticeRequest
from cashback.domain.money import Money
from cashback.domain.reseller import Language, ResellerSnapshot
from cashback.domain.status import NoticeKind
from cashback.mail import SmtpOutbox

FROM = "Reseller Cash Back <cashback@cashback.example>"
SUPPORT = "support@cashback.example"
OPERATORS = "operators@cashback.example"

OutboxFactory = Callable[..., SmtpOutbox]
"""Builds an outbox on the test server; keywords override its constructor arguments."""


class InMemoryNoticeLog:
    """`activities.mail.NoticeLog` in a dict: the first record of a key wins."""

    def __init__(self) -> None:
        self._receipts: dict[str, NoticeReceipt] = {}
        self._lock = threading.Lock()

    def receipt_for(self, idempotency_key: str) -> NoticeReceipt | None:
        with self._lock:
            return self._receipts.get(idempotency_key)

    def record(self, notice: NoticeRequest, receipt: NoticeReceipt) -> None:
        with self._lock:
            self._receipts.setdefault(notice.idempotency_key, receipt)

    def __len__(self) -> int:
        with self._lock:
            return len(self._receipts)


def secure_link(notice: NoticeRequest) -> str:
    return f"https://cashback.example/bank-details/{notice.claim_id}-{notice.number}?t=one-time"


def make_notice(
    kind: NoticeKind,
    language: Language = Language.ENGLISH,
    *,
    claim_id: str = "claim-0001",
    number: int = 1,
    email_address: str = "office@reseller.example",
    company_name: str = "Müller IT GmbH",
    **facts: Any,
) -> NoticeRequest:
    """A notice with every fact its kind could show, and a respond-by instant (R10)."""
    all_facts: dict[str, Any] = {
        "agreement_number": "OL-4711",
        "offer_name": "Open License Winter 2026",
        "amount": Money(minor_units=123450, currency="EUR"),
        "reasons": ("R8: the agreement is not in the licensing records",),
        "review_deadline": date(2026, 12, 16),
        "payout_date": date(2027, 2, 1),
        "payment_reference": "PAY-2026-0042",
        "bank_return_code": "AC04",
    }
    all_facts.update(facts)
    return NoticeRequest(
        claim_id=claim_id,
        kind=kind,
        number=number,
        reseller=ResellerSnapshot(
            reseller_id="reseller-17",
            company_name=company_name,
            country="DE",
            language=language,
            email=email_address,
        ),
        respond_by=datetime(2026, 12, 21, 9, 30, tzinfo=UTC),
        facts=NoticeFacts(**all_facts),
    )
