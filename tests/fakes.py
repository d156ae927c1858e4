"""In-memory stand-ins for the activities' dependencies, used by the workflow tests.

They keep to the contracts of activities/ (idempotent timeline, one notice per key, one transfer
per payment key), so a workflow test fails when the workflow relies on something the real
implementations would not do.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from activities.mail import NoticeReceipt, NoticeRequest
from activities.payments import (
    PaymentOrder,
    PaymentOutcome,
    PaymentResult,
    TransientBankError,
)
from activities.records import TimelineEntry
from cashback.claims import BankDetailsSubmission
from cashback.domain.budgets import BudgetUse, CommitAnswer, CommitmentState
from cashback.domain.eligibility import LicensingRecord
from cashback.domain.money import Money
from cashback.domain.payee import PayeeAnswer, PayeeAnswerCode
from cashback.domain.status import NoticeKind
from cashback.mail.errors import InvalidNotice


class InMemoryTimeline:
    def __init__(self) -> None:
        self._entries: dict[tuple[str, int], TimelineEntry] = {}
        self._lock = threading.Lock()

    def append(self, entry: TimelineEntry) -> None:
        with self._lock:
            self._entries.setdefault((entry.claim_id, entry.sequence), entry)

    def of(self, claim_id: str) -> list[TimelineEntry]:
        with self._lock:
            return sorted(
                (e for (c, _), e in self._entries.items() if c == claim_id),
                key=lambda e: e.sequence,
            )


class InMemoryBudgets:
    """Offer budgets (D7) as cashback/db/budgets.py keeps them: one commitment per claim,
    committed only while the budget's remainder covers it, then paid or released."""

    def __init__(self) -> None:
        self.budgets: dict[str, int] = {}  # offer id -> budget; absent: no budget
        self.commitments: dict[str, tuple[str, int, CommitmentState]] = {}  # claim id ->
        self.refused: list[str] = []  # claim ids, one per refused commitment
        self.top_up_after_refusal: int | None = None  # an operator's top-up racing the claim
        self._lock = threading.Lock()

    def use(self, offer_id: str) -> BudgetUse:
        sums = dict.fromkeys(CommitmentState, 0)
        for offer, amount, state in self.commitments.values():
            if offer == offer_id:
                sums[state] += amount
        return BudgetUse(
            budget=self.budgets.get(offer_id),
            committed=sums[CommitmentState.COMMITTED],
            paid=sums[CommitmentState.PAID],
            released=sums[CommitmentState.RELEASED],
        )

    def commit(self, claim_id: str, offer_id: str, amount: Money) -> CommitAnswer:
        with self._lock:
            existing = self.commitments.get(claim_id)
            if existing is not None and existing[2] is not CommitmentState.RELEASED:
                return CommitAnswer(True, self.use(offer_id), amount.currency)
            if not self.use(offer_id).covers(amount.minor_units):
                self.refused.append(claim_id)
                refused = CommitAnswer(False, self.use(offer_id), amount.currency)
                if self.top_up_after_refusal is not None:
                    self.budgets[offer_id] = self.top_up_after_refusal
                    self.top_up_after_refusal = None
                return refused
            self.commitments[claim_id] = (offer_id, amount.minor_units, CommitmentState.COMMITTED)
            return CommitAnswer(True, self.use(offer_id), amount.currency)

    def settle(self, claim_id: str, state: CommitmentState) -> None:
        with self._lock:
            existing = self.commitments.get(claim_id)
            if existing is not None and existing[2] is CommitmentState.COMMITTED:
                self.commitments[claim_id] = (existing[0], existing[1], state)

    def reopen(self, claim_id: str) -> None:
        with self._lock:
            existing = self.commitments.get(claim_id)
            if existing is not None and existing[2] is CommitmentState.PAID:
                self.commitments[claim_id] = (existing[0], existing[1], CommitmentState.COMMITTED)

    def state_of(self, claim_id: str) -> CommitmentState | None:
        with self._lock:
            found = self.commitments.get(claim_id)
            return found[2] if found else None


class InMemoryStandingConfirmations:
    """Bank details resellers confirmed for all their claims (R10), by reseller id."""

    def __init__(self) -> None:
        self.by_reseller: dict[str, BankDetailsSubmission] = {}
        self.asked: list[str] = []

    def confirmed_details(self, reseller_id: str) -> BankDetailsSubmission | None:
        self.asked.append(reseller_id)
        return self.by_reseller.get(reseller_id)


DEFAULT_IBAN = "DE89370400440532013000"


@dataclass(frozen=True)
class RevealedIban:
    iban: str


class InMemoryAccounts:
    """The encrypted bank details as the payee check reveals them: an IBAN per reference
    (`DEFAULT_IBAN` for a reference no test set)."""

    def __init__(self) -> None:
        self.ibans: dict[str, str] = {}

    def reveal(self, reference: str) -> RevealedIban:
        return RevealedIban(self.ibans.get(reference, DEFAULT_IBAN))


class ScriptedPayeeVerification:
    """A Verification of Payee port answering MTCH unless `answers` (by IBAN) says otherwise;
    `asked` keeps the names it was asked to check."""

    def __init__(self) -> None:
        self.answers: dict[str, PayeeAnswer] = {}
        self.asked: list[str] = []

    def verify(self, iban: str, name: str) -> PayeeAnswer:
        self.asked.append(name)
        return self.answers.get(iban, PayeeAnswer(code=PayeeAnswerCode.MATCH))


class InMemoryPayeeAnswers:
    """The payee answers remembered per bank-details reference and name."""

    def __init__(self) -> None:
        self.codes: dict[tuple[str, str], PayeeAnswerCode] = {}

    def last_answer(self, reference: str, name: str) -> PayeeAnswerCode | None:
        return self.codes.get((reference, name))

    def remember(self, reference: str, name: str, code: PayeeAnswerCode) -> None:
        self.codes[(reference, name)] = code


class RecordingOutbox:
    """Keeps every notice it was asked to send, once per idempotency key."""

    def __init__(self) -> None:
        self._sent: dict[str, NoticeRequest] = {}
        self._lock = threading.Lock()
        self.bouncing: set[NoticeKind] = set()

    def send(self, notice: NoticeRequest) -> NoticeReceipt:
        if notice.kind in self.bouncing:
            raise InvalidNotice(f"{notice.idempotency_key}: 550 mailbox unavailable")
        with self._lock:
            self._sent.setdefault(notice.idempotency_key, notice)
        return NoticeReceipt(message_id=notice.idempotency_key, sent_at=datetime.now(UTC))

    def of(self, claim_id: str) -> list[NoticeRequest]:
        with self._lock:
            return [n for n in self._sent.values() if n.claim_id == claim_id]

    def kinds(self, claim_id: str) -> list[NoticeKind]:
        return [n.kind for n in self.of(claim_id)]


class InMemoryInvoiceStore:
    def __init__(self) -> None:
        self.sha256_by_key: dict[str, str] = {}

    def stored_sha256(self, object_key: str) -> str | None:
        return self.sha256_by_key.get(object_key)


class InMemoryLicensingRecords:
    def __init__(self) -> None:
        self.records: dict[str, LicensingRecord] = {}
        self.reservations: dict[str, tuple[str, str, int]] = {}  # claim -> (offer, customer, n)
        self._lock = threading.Lock()

    def find_agreement(self, agreement_number: str) -> LicensingRecord | None:
        return self.records.get(agreement_number)

    def reserve_licences(
        self, claim_id: str, offer_id: str, customer_key: str, decide: Callable[[int], int]
    ) -> int:
        with self._lock:
            held = sum(
                n
                for claim, (offer, customer, n) in self.reservations.items()
                if claim != claim_id and offer == offer_id and customer == customer_key
            )
            licences = decide(held)
            self.reservations[claim_id] = (offer_id, customer_key, licences)
            return licences

    def release_licences(self, claim_id: str) -> None:
        with self._lock:
            self.reservations.pop(claim_id, None)


@dataclass
class Transfer:
    idempotency_key: str
    claim_id: str
    minor_units: int
    bank_details_ref: str


@dataclass
class ScriptedBank:
    """A bank whose answers a test scripts per bank-details reference.

    `rejections[ref]` is the ISO 20022 code returned for payments to `ref`; `transient_failures`
    fail that many calls before answering; `crash_after_transfer` moves the money and then
    fails the call once, as a worker dying after the bank accepted would. With `answers_later`
    the order goes out as to a file exchange: the activity waits (`waiting`: its task token per
    payout key) until a test completes it, as the import or an operator does.
    """

    rejections: dict[str, str] = field(default_factory=dict)
    transient_failures: int = 0
    crash_after_transfer: bool = False
    answers_later: bool = False
    ledger: dict[str, Transfer] = field(default_factory=dict)
    waiting: dict[str, bytes] = field(default_factory=dict)
    calls: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def await_answer(self, idempotency_key: str, task_token: bytes) -> None:
        with self._lock:
            self.waiting[idempotency_key] = task_token

    def pay(self, order: PaymentOrder) -> PaymentResult | None:
        with self._lock:
            self.calls += 1
            if self.answers_later:
                return None
            if self.transient_failures > 0:
                self.transient_failures -= 1
                raise TransientBankError("AB06: the bank did not answer in time")
            code = self.rejections.get(order.bank_details_ref)
            if code is not None:
                return PaymentResult(
                    outcome=PaymentOutcome.REJECTED, return_code=code, detail="account rejected"
                )
            transfer = self.ledger.setdefault(
                order.idempotency_key,
                Transfer(
                    order.idempotency_key,
                    order.claim_id,
                    order.amount.minor_units,
                    order.bank_details_ref,
                ),
            )
            if self.crash_after_transfer:
                self.crash_after_transfer = False
                raise ConnectionError("connection lost after the bank accepted the transfer")
            return PaymentResult(
                outcome=PaymentOutcome.PAID, bank_reference=f"BANK-{transfer.idempotency_key}"
            )

    def transfers_for(self, claim_id: str) -> list[Transfer]:
        with self._lock:
            return [t for t in self.ledger.values() if t.claim_id == claim_id]
