"""D1: one claim per offer and agreement. D2: the same idempotency key returns the same claim.
D5: a payment is ordered at most once per idempotency key."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from activities.payments import PaymentOrder, PaymentOutcome, PaymentResult
from cashback.bank.recorded import RecordedGateway
from cashback.db import (
    BankAccounts,
    BankDetails,
    ClaimRepository,
    Database,
    DuplicateClaim,
    PaymentRepository,
)
from cashback.db.claims import store_claim
from cashback.db.tables import Claim, PaymentStatus
from cashback.domain.agreements import agreement_key
from cashback.domain.money import Money
from cashback.domain.payout import HolderType
from cashback.domain.status import ClaimStatus
from tests.db.seed import add_claims, add_offer, add_reseller, new_claim


def test_d2_same_idempotency_key_returns_the_first_claim(database: Database) -> None:
    with database.transaction() as session:
        add_reseller(session)
        add_offer(session)
    with database.transaction() as session:
        first = ClaimRepository(session).add(new_claim("claim-1", idempotency_key="submit-1"))
    with database.transaction() as session:
        again = ClaimRepository(session).add(new_claim("claim-2", idempotency_key="submit-1"))
    assert again.id == first.id == "claim-1"
    with database.reading() as session:
        assert session.scalar(select(func.count()).select_from(Claim)) == 1


def test_d1_a_second_claim_for_the_same_offer_and_agreement_names_the_first(
    database: Database,
) -> None:
    with database.transaction() as session:
        add_reseller(session)
        add_offer(session)
        ClaimRepository(session).add(new_claim("claim-1", agreement_number="OL-7"))
    with pytest.raises(DuplicateClaim) as refused, database.transaction() as session:
        ClaimRepository(session).add(new_claim("claim-2", agreement_number="OL-7"))
    assert refused.value.existing_claim_id == "claim-1"
    assert "claim-1" in str(refused.value)


def test_d1_d2_one_read_finds_the_claim_under_the_key_and_the_agreements_open_claim(
    database: Database,
) -> None:
    """What a submission reads before storing (`by_key_or_agreement`, one statement): the
    claim under its idempotency key (D2) and the offer's open or paid claim for the agreement
    however its number is written (D1); a rejected claim does not hold the agreement."""
    with database.transaction() as session:
        add_reseller(session)
        add_offer(session)
        session.flush()
        session.add(new_claim("claim-1", agreement_number="OL-7", idempotency_key="k-1"))
        rejected = new_claim("claim-2", agreement_number="OL-8", idempotency_key="k-2")
        rejected.status = ClaimStatus.REJECTED
        session.add(rejected)
    with database.reading() as session:
        claims = ClaimRepository(session)
        offer = session.get_one(Claim, "claim-1").offer_id
        nothing = claims.by_key_or_agreement("k-9", offer, "OL-9")
        under_key = claims.by_key_or_agreement("k-1", offer, "OL-9")
        same_agreement = claims.by_key_or_agreement("k-9", offer, "ol 7")
        both = claims.by_key_or_agreement("k-1", offer, "OL-7")
        released = claims.by_key_or_agreement("k-9", offer, "OL-8")
        key_of_rejected = claims.by_key_or_agreement("k-2", offer, "OL-8")
        other_offer = claims.by_key_or_agreement("k-9", "another-offer", "OL-7")
    assert nothing == (None, None)
    assert [c and c.id for c in under_key] == ["claim-1", None]
    assert [c and c.id for c in same_agreement] == [None, "claim-1"]
    assert [c and c.id for c in both] == ["claim-1", "claim-1"]
    assert released == (None, None)
    assert [c and c.id for c in key_of_rejected] == ["claim-2", None]
    assert other_offer == (None, None)


def test_d1_d2_a_stored_claim_is_answered_as_stored(database: Database) -> None:
    """`store_claim` (one INSERT ... RETURNING) answers the row with the database's defaults
    (the agreement's key, D1); the same idempotency key answers the first claim (D2), the
    same agreement under another key is refused naming the first (D1)."""
    with database.transaction() as session:
        add_reseller(session)
        add_offer(session)
    stored = store_claim(
        database, new_claim("claim-1", agreement_number="ol-7 ", idempotency_key="k-1")
    )
    assert (stored.id, stored.agreement_key, stored.status) == (
        "claim-1",
        agreement_key("OL-7"),
        ClaimStatus.SUBMITTED,
    )
    assert stored.created_at.tzinfo is not None
    again = store_claim(
        database, new_claim("claim-2", agreement_number="OL-9", idempotency_key="k-1")
    )
    assert again.id == "claim-1"
    with pytest.raises(DuplicateClaim) as refused:
        store_claim(database, new_claim("claim-3", agreement_number="OL 7", idempotency_key="k-3"))
    assert refused.value.existing_claim_id == "claim-1"


def test_claim_status_and_amount_are_projected(database: Database) -> None:
    with database.transaction() as session:
        add_claims(session, "claim-1")
    with database.transaction() as session:
        ClaimRepository(session).set_status(
            "claim-1", ClaimStatus.AWAITING_BANK_DETAILS, Money(minor_units=12500, currency="EUR")
        )
    with database.reading() as session:
        claim = ClaimRepository(session).get("claim-1")
        assert claim is not None
        assert (claim.status, claim.amount_minor_units, claim.currency) == (
            ClaimStatus.AWAITING_BANK_DETAILS,
            12500,
            "EUR",
        )


def test_d5_a_payment_is_ordered_once_per_key_and_keeps_its_first_answer(
    database: Database,
) -> None:
    with database.transaction() as session:
        add_claims(session, "claim-1")
    account = BankAccounts(database, bytes(32)).store(
        BankDetails(
            holder_name="Acme Software GmbH",
            holder_type=HolderType.COMPANY,
            iban="DE89370400440532013000",
        )
    )
    amount = Money(minor_units=12500, currency="EUR")
    key = "cashback/claim-1/payout/1"
    with database.transaction() as session:
        PaymentRepository(session).order(key, "claim-1", amount, account)
    with database.transaction() as session:
        payments = PaymentRepository(session)
        again = payments.order(key, "claim-1", Money(minor_units=1, currency="EUR"), account)
        assert again.amount_minor_units == 12500
        payments.record_answer(key, PaymentStatus.PAID, bank_reference="BANK-1")
    with database.transaction() as session:
        late = PaymentRepository(session).record_answer(
            key, PaymentStatus.REJECTED, return_code="AC04"
        )
        assert (late.status, late.bank_reference, late.return_code) == (
            PaymentStatus.PAID,
            "BANK-1",
            None,
        )
        assert len(PaymentRepository(session).of_claim("claim-1")) == 1


def test_d2_concurrent_submissions_with_one_key_store_one_claim(database: Database) -> None:
    """D2 under a race: ten requests with the same idempotency key all get the same claim."""
    with database.transaction() as session:
        add_reseller(session)
        add_offer(session)
    start = threading.Barrier(10)

    def submit(n: int) -> str:
        start.wait(timeout=30)
        with database.transaction() as session:
            return ClaimRepository(session).add(new_claim(f"claim-{n}", idempotency_key="k")).id

    with ThreadPoolExecutor(max_workers=10) as pool:
        claim_ids = set(pool.map(submit, range(10)))

    assert len(claim_ids) == 1
    with database.reading() as session:
        assert session.scalar(select(func.count()).select_from(Claim)) == 1


class CountingBank:
    """A gateway that pays every order it is asked for, or answers later (a payment run)."""

    def __init__(self, answers_later: bool = False) -> None:
        self.calls = 0
        self.answers_later = answers_later

    def pay(self, order: PaymentOrder) -> PaymentResult | None:
        self.calls += 1
        if self.answers_later:
            return None
        return PaymentResult(outcome=PaymentOutcome.PAID, bank_reference="BANK-7")


def _order(database: Database) -> PaymentOrder:
    account = BankAccounts(database, bytes(32)).store(
        BankDetails(
            holder_name="Acme Software GmbH",
            holder_type=HolderType.COMPANY,
            iban="DE89370400440532013000",
        )
    )
    return PaymentOrder(
        idempotency_key="cashback/claim-1/payout/1",
        claim_id="claim-1",
        amount=Money(minor_units=12500, currency="EUR"),
        bank_details_ref=account,
        remittance_information="Cash back",
    )


def test_d5_an_answered_payment_is_never_sent_to_the_bank_again(database: Database) -> None:
    """D5: the payments record answers a retried order from the database: the bank is asked
    once, the retry gets the first answer."""
    with database.transaction() as session:
        add_claims(session, "claim-1")
    bank = CountingBank()
    gateway = RecordedGateway(bank, database)
    order = _order(database)
    first = gateway.pay(order)
    again = gateway.pay(order)
    assert bank.calls == 1
    assert first == PaymentResult(outcome=PaymentOutcome.PAID, bank_reference="BANK-7")
    assert again is not None
    assert (again.outcome, again.bank_reference) == (PaymentOutcome.PAID, "BANK-7")


def test_r14_a_payment_answered_later_stays_pending_with_its_waiting_task(
    database: Database,
) -> None:
    """R14: a bank that answers later leaves the payment pending, with the task token of the
    activity that waits for the answer."""
    with database.transaction() as session:
        add_claims(session, "claim-1")
    gateway = RecordedGateway(CountingBank(answers_later=True), database)
    order = _order(database)
    assert gateway.pay(order) is None
    gateway.await_answer(order.idempotency_key, b"task-token-1")
    with database.reading() as session:
        payment = PaymentRepository(session).get(order.idempotency_key)
        assert payment is not None
        assert (payment.status, payment.task_token) == (PaymentStatus.PENDING, b"task-token-1")
