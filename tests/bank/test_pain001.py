"""R14, D5: the payment run's file is a `pain.001.001.09` document that validates against the
official ISO 20022 schema, with the control sum and number of transactions of its transfers."""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cashback.bank.pain001 import (
    NAMESPACE,
    SCHEMA_PATH,
    DebtorAccount,
    InvalidPaymentFile,
    Transfer,
    build,
    validate,
)
from cashback.domain.sepa import minor_units

NS = {"p": NAMESPACE}
DEBTOR = DebtorAccount("Cashback Program GmbH", "DE89370400440532013000", "COBADEFFXXX")


def transfer(n: int, amount: int, bic: str | None = None) -> Transfer:
    return Transfer(
        end_to_end_id=f"c-{n:016x}/payout/1",
        amount_minor_units=amount,
        creditor_name="Contoso Software GmbH",
        creditor_iban="DE02120300000000202051",
        creditor_bic=bic,
        remittance_information=f"Cash back, claim c_{n:016x}",
    )


def test_r14_the_schema_is_the_official_one() -> None:
    """R14: the vendored schema is ISO 20022's, byte for byte (schemas/SOURCE.md)."""
    digest = hashlib.sha256(SCHEMA_PATH.read_bytes()).hexdigest()
    assert digest == "de038b373e47b0077b1832ddd81f4b2f1eb25d35721f62da1e38b7f5a09fda24"
    assert digest in (SCHEMA_PATH.parent / "SOURCE.md").read_text()


def test_r14_d5_a_run_file_validates_and_carries_its_transfers() -> None:
    """R14, D5: the file validates against the official schema; each EndToEndId, amount,
    the control sum, the number of transactions and the execution date are as given."""
    transfers = [transfer(1, 25_000), transfer(2, 1_999, "BKAUATWW"), transfer(3, 1)]
    built = build(DEBTOR, date(2026, 12, 28), "EUR", transfers)
    validate(built.content)
    root = ET.fromstring(built.content)
    header = root.find("p:CstmrCdtTrfInitn/p:GrpHdr", NS)
    assert header is not None
    assert header.findtext("p:MsgId", namespaces=NS) == built.message_id
    assert header.findtext("p:NbOfTxs", namespaces=NS) == "3"
    assert header.findtext("p:CtrlSum", namespaces=NS) == "270.00"
    assert (built.number_of_transactions, built.control_sum_minor_units) == (3, 27_000)
    assert root.findtext(".//p:ReqdExctnDt/p:Dt", namespaces=NS) == "2026-12-28"
    assert root.findtext(".//p:DbtrAcct/p:Id/p:IBAN", namespaces=NS) == DEBTOR.iban
    ids = [e.text for e in root.iterfind(".//p:CdtTrfTxInf/p:PmtId/p:EndToEndId", NS)]
    assert ids == [t.end_to_end_id for t in transfers]
    amounts = [
        (a.get("Ccy"), minor_units(a.text or "", "EUR"))
        for a in root.iterfind(".//p:CdtTrfTxInf/p:Amt/p:InstdAmt", NS)
    ]
    assert amounts == [("EUR", 25_000), ("EUR", 1_999), ("EUR", 1)]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(min_value=1, max_value=10**9), min_size=1, max_size=12))
def test_r14_control_sum_and_count_match_the_transfers(amounts: list[int]) -> None:
    """R14: whatever the amounts, the group header's control sum is their sum and its count
    their number, and the file validates."""
    built = build(DEBTOR, date(2027, 1, 4), "EUR", [transfer(n, a) for n, a in enumerate(amounts)])
    root = ET.fromstring(built.content)
    control_sum = root.findtext("p:CstmrCdtTrfInitn/p:GrpHdr/p:CtrlSum", namespaces=NS) or ""
    assert minor_units(control_sum, "EUR") == sum(amounts) == built.control_sum_minor_units
    assert root.findtext("p:CstmrCdtTrfInitn/p:GrpHdr/p:NbOfTxs", namespaces=NS) == str(
        len(amounts)
    )


def test_r14_a_file_the_schema_refuses_is_named() -> None:
    """R14: a document that breaks the schema (an EndToEndId over 35 characters) or another
    message is refused with the reason."""
    built = build(DEBTOR, date(2027, 1, 4), "EUR", [transfer(1, 100)])
    too_long = built.content.replace(b"c-0000000000000001/payout/1", b"x" * 36)
    with pytest.raises(InvalidPaymentFile, match="schema error"):
        validate(too_long)
    with pytest.raises(InvalidPaymentFile, match="schema error") as wrong_iban:
        validate(built.content.replace(b"DE02120300000000202051", b"de02-not-an-iban"))
    assert str(wrong_iban.value).endswith(
        "at /Document/CstmrCdtTrfInitn/PmtInf/CdtTrfTxInf/CdtrAcct/Id/IBAN"
    )
    assert "de02" not in str(wrong_iban.value)  # the path, never the value: R13
    with pytest.raises(InvalidPaymentFile, match="schema error"):
        validate(built.content.replace(b"pain.001.001.09", b"pain.001.001.03"))
    with pytest.raises(InvalidPaymentFile, match="well-formed"):
        validate(b"<!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>")
    with pytest.raises(ValueError, match="at least one transfer"):
        build(DEBTOR, date(2027, 1, 4), "EUR", [])
