"""The SEPA credit transfer file of a payment run (R14, D5): ISO 20022 `pain.001.001.09`,
built with `sepaxml` and validated against the official schema (schemas/SOURCE.md), offline.

One file per run and debtor account; each transfer's EndToEndId carries its payout's
idempotency key (`cashback.domain.sepa.end_to_end_id`), so the bank's answers find their claim.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

import xmlschema
from defusedxml import ElementTree as SafeElementTree
from sepaxml import SepaTransfer

SCHEMA_VERSION = "pain.001.001.09"
NAMESPACE = f"urn:iso:std:iso:20022:tech:xsd:{SCHEMA_VERSION}"
SCHEMA_PATH = Path(__file__).parent / "schemas" / f"{SCHEMA_VERSION}.xsd"


class InvalidPaymentFile(ValueError):
    """The file does not validate against the official schema; the message says where."""


@dataclass(frozen=True)
class DebtorAccount:
    """The program's account the cash back leaves from."""

    name: str
    iban: str
    bic: str | None = None


@dataclass(frozen=True)
class Transfer:
    end_to_end_id: str
    amount_minor_units: int
    creditor_name: str
    creditor_iban: str
    creditor_bic: str | None
    remittance_information: str


@dataclass(frozen=True)
class PaymentFile:
    message_id: str
    content: bytes
    number_of_transactions: int
    control_sum_minor_units: int


@lru_cache(maxsize=1)
def _schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(SCHEMA_PATH))


def validate(content: bytes) -> None:
    """Raises `InvalidPaymentFile` unless `content` is a valid `pain.001.001.09` document."""
    try:
        document = SafeElementTree.fromstring(content, forbid_dtd=True)
    except Exception as error:  # defusedxml's refusals and ParseError alike
        raise InvalidPaymentFile(f"not well-formed XML: {error}") from None
    errors = list(_schema().iter_errors(document))
    if errors:
        # The element's path only: a reason can quote the value, and values are bank details.
        where = re.sub(r"\{[^}]*\}", "", errors[0].path or "") or "the document"
        raise InvalidPaymentFile(f"{len(errors)} schema error(s); the first at {where}")


def build(
    debtor: DebtorAccount, execution_on: date, currency: str, transfers: list[Transfer]
) -> PaymentFile:
    """R14, D5: the run's transfers as one `pain.001.001.09` file, requested for execution on
    `execution_on` (a TARGET2 business day: `cashback.domain.sepa.execution_date`), validated
    against the official schema before it is returned."""
    if not transfers:
        raise ValueError("a payment file needs at least one transfer")
    config: dict[str, Any] = {
        "name": debtor.name,
        "IBAN": debtor.iban,
        "batch": True,
        "currency": currency,
    }
    if debtor.bic:
        config["BIC"] = debtor.bic
    sepa = SepaTransfer(config, schema=SCHEMA_VERSION, clean=True)
    for transfer in transfers:
        payment: dict[str, Any] = {
            "name": transfer.creditor_name,
            "IBAN": transfer.creditor_iban,
            "amount": transfer.amount_minor_units,
            "currency": currency,
            "execution_date": execution_on,
            "description": transfer.remittance_information,
            "endtoend_id": transfer.end_to_end_id,
        }
        if transfer.creditor_bic:
            payment["BIC"] = transfer.creditor_bic
        sepa.add_payment(payment)
    content: bytes = sepa.export(validate=False)
    validate(content)
    return PaymentFile(
        message_id=str(sepa.msg_id),
        content=content,
        number_of_transactions=len(transfers),
        control_sum_minor_units=sum(t.amount_minor_units for t in transfers),
    )
