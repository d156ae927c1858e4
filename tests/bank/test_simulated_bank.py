"""The simulated bank keeps the promises of a real payment gateway (D5, R16)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from activities.payments import (
    PaymentGateway,
    PaymentOrder,
    PaymentOutcome,
    TransientBankError,
    payout_idempotency_key,
)
from cashback.bank.simulated import Payee, SimulatedBank
from cashback.bank.simulated_channel import SimulatedBankChannel
from cashback.domain.money import Money

GOOD = "DE89 3704 0044 0532 0130 00"
CLOSED = "DE02 1203 0000 0000 2020 51"
SLOW = "DE02 5001 0517 0137 0750 30"
PAYEES = {
    "good": Payee(holder_name="Contoso Software GmbH", iban=GOOD),
    "closed": Payee(holder_name="Contoso Software GmbH", iban=CLOSED),
    "slow": Payee(holder_name="Contoso Software GmbH", iban=SLOW),
    "typo": Payee(holder_name="Contoso Software GmbH", iban="DE89 3704 0044 0532 0130 01"),
}


def bank(tmp_path: Path) -> SimulatedBank:
    return SimulatedBank(
        tmp_path / "ledger.sqlite3", PAYEES.__getitem__, {CLOSED: "AC04", SLOW: "AB06"}
    )


def order(reference: str, claim_id: str = "c-1", attempt: int = 1) -> PaymentOrder:
    return PaymentOrder(
        idempotency_key=payout_idempotency_key(claim_id, attempt),
        claim_id=claim_id,
        amount=Money(minor_units=25_000, currency="EUR"),
        bank_details_ref=reference,
        remittance_information="Cash back",
    )


def test_d5_same_key_pays_once_even_across_restarts(tmp_path: Path) -> None:
    """D5: a second call with the same key, even from a new bank object on the same ledger
    (a restarted process), returns the first payment and moves no more money."""
    gateway: PaymentGateway = bank(tmp_path)
    first = gateway.pay(order("good"))
    again = bank(tmp_path).pay(order("good"))
    assert first is not None
    assert first.outcome is PaymentOutcome.PAID
    assert again == first
    assert bank(tmp_path).transfers("c-1") == [
        (payout_idempotency_key("c-1", 1), "c-1", 25_000, "EUR")
    ]


def test_d5_concurrent_calls_with_one_key_pay_once(tmp_path: Path) -> None:
    """D5: twenty racing calls with the same key: one transfer, one answer."""
    gateways = [bank(tmp_path) for _ in range(4)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda i: gateways[i % 4].pay(order("good")), range(20)))
    assert len({r.bank_reference for r in results}) == 1
    assert len(bank(tmp_path).transfers()) == 1


@pytest.mark.parametrize(("reference", "code"), [("closed", "AC04"), ("typo", "AC01")])
def test_r16_bank_detail_errors_are_answers_with_iso_codes(
    tmp_path: Path, reference: str, code: str
) -> None:
    """R16: a closed account (configured) or an IBAN with wrong check digits is rejected with its
    ISO 20022 code; nothing is transferred, and the same key gets the same answer."""
    gateway = bank(tmp_path)
    result = gateway.pay(order(reference))
    assert (result.outcome, result.return_code) == (PaymentOutcome.REJECTED, code)
    assert result.detail
    assert gateway.pay(order(reference)) == result
    assert gateway.transfers() == []


def test_r16_transient_failures_raise_and_book_nothing(tmp_path: Path) -> None:
    """R16: a timeout at the bank (AB06) is an exception Temporal retries, not an answer: it is
    not booked under the key, so a later attempt can still pay."""
    gateway = bank(tmp_path)
    with pytest.raises(TransientBankError, match="AB06"):
        gateway.pay(order("slow"))
    assert gateway.transfers() == []


def test_unknown_behaviour_codes_are_refused(tmp_path: Path) -> None:
    """A configuration with a code the bank does not know fails at once, naming it."""
    with pytest.raises(ValueError, match="XX99"):
        SimulatedBank(tmp_path / "l.sqlite3", PAYEES.__getitem__, {GOOD: "XX99"})


def test_r16_the_simulated_channel_returns_only_for_bank_detail_reasons(tmp_path: Path) -> None:
    """R16: a return after the booking carries a bank-detail reason (AC04...); a transient one
    (TECH) is refused at once, naming the codes."""
    with pytest.raises(ValueError, match=r"returns take a bank-detail reason code.*\['TECH'\]"):
        SimulatedBankChannel(tmp_path, tmp_path, returns={"NL91ABNA0417164300": "TECH"})
