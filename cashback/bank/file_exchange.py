"""A payment gateway for banks reached by file exchange: each payment order is written as a
file to an outbox folder the bank channel picks up; the bank's answer (ISO 20022 status or reason
code) is entered later by an operator (POST /operator/claims/{id}/payment-result), which
completes the waiting activity."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

from activities.payments import PaymentOrder, PaymentResult
from cashback.bank.simulated import Payee


class FileExchangeGateway:
    def __init__(self, outbox: Path, payee_for: Callable[[str], Payee]) -> None:
        self._outbox = outbox
        self._payee_for = payee_for
        outbox.mkdir(parents=True, exist_ok=True)

    def order_file(self, idempotency_key: str) -> Path:
        return self._outbox / f"{idempotency_key.replace('/', '_')}.json"

    def pay(self, order: PaymentOrder) -> PaymentResult | None:
        """Write the order once (a retried activity finds it written) and answer later."""
        target = self.order_file(order.idempotency_key)
        if not target.exists():
            payee = self._payee_for(order.bank_details_ref)
            document = {
                "end_to_end_id": order.idempotency_key,
                "amount_minor_units": order.amount.minor_units,
                "currency": order.amount.currency,
                "creditor_name": payee.holder_name,
                "creditor_iban": payee.iban,
                "creditor_bic": payee.bic,
                "remittance_information": order.remittance_information,
            }
            temporary = target.with_suffix(".tmp")
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "w") as file:
                json.dump(document, file, indent=2)
            temporary.replace(target)
        return None
