"""Bank details, encrypted at rest (R13).

Holder name, holder type, IBAN and BIC are sealed together with AES-GCM under a 32-byte key from
configuration, with a fresh nonce per row; the row's reference is bound in as associated data,
so a ciphertext copied onto another row does not open. Only the masked IBAN is stored in the
clear. Workflows carry the reference, never the details.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select

from cashback.db.session import Database
from cashback.db.tables import BankAccount
from cashback.domain.payout import HolderType

_NONCE_BYTES = 12


class BankDetails(BaseModel):
    """What the reseller enters on the secure page (R11, R12, R13). Kept out of reprs, logs and
    validation errors."""

    model_config = ConfigDict(frozen=True, hide_input_in_errors=True)

    holder_name: str = Field(min_length=1, repr=False)
    holder_type: HolderType
    iban: str = Field(min_length=5, max_length=42, repr=False)
    bic: str | None = Field(default=None, repr=False)

    @field_validator("iban", "bic")
    @classmethod
    def _compact(cls, value: str | None) -> str | None:
        return None if value is None else "".join(value.split()).upper()


class UnknownBankAccount(LookupError):
    """No bank details are stored under the reference."""


class BankDetailsUnreadable(Exception):
    """The stored details do not open with the configured keys (wrong or missing key)."""


def mask_iban(iban: str) -> str:
    """The IBAN as shown to people: country, check digits and the last four characters, in
    groups of four (`DE89 **** **** **** **30 00`)."""
    compact = "".join(iban.split()).upper()
    hidden = len(compact) - 8
    if hidden < 1:
        raise ValueError("too short for an IBAN")
    masked = compact[:4] + "*" * hidden + compact[-4:]
    return " ".join(masked[i : i + 4] for i in range(0, len(masked), 4))


class BankAccounts:
    """Stores bank details encrypted and hands back a reference.

    `key` (32 bytes) under `key_id` seals new rows; `retired_keys` (key id -> key) still open
    rows sealed before a key rotation, until `reseal()` has moved them to the current key.
    Each call is one transaction.
    """

    def __init__(
        self,
        database: Database,
        key: bytes,
        *,
        key_id: str = "1",
        retired_keys: Mapping[str, bytes] | None = None,
    ) -> None:
        keys = {**(retired_keys or {}), key_id: key}
        for name, material in keys.items():
            if len(material) != 32:
                raise ValueError(f"bank details key {name!r} must be 32 bytes (AES-256)")
        self._database = database
        self._key_id = key_id
        self._ciphers = {name: AESGCM(material) for name, material in keys.items()}

    def store(self, details: BankDetails) -> str:
        """Encrypt and store `details`; the reference the workflow carries."""
        reference = f"ba_{secrets.token_urlsafe(18)}"
        nonce, ciphertext = self._seal(reference, details)
        with self._database.transaction() as session:
            session.add(
                BankAccount(
                    reference=reference,
                    key_id=self._key_id,
                    nonce=nonce,
                    ciphertext=ciphertext,
                    masked_iban=mask_iban(details.iban),
                    created_at=datetime.now(UTC),
                )
            )
        return reference

    def masked(self, reference: str) -> str:
        """The masked IBAN, the only form shown to people (R13)."""
        with self._database.reading() as session:
            masked = session.scalar(
                select(BankAccount.masked_iban).where(BankAccount.reference == reference)
            )
        if masked is None:
            raise UnknownBankAccount(reference)
        return masked

    def reveal(self, reference: str) -> BankDetails:
        """The details in the clear, for the payment gateway only."""
        with self._database.reading() as session:
            row = session.get(BankAccount, reference)
            if row is None:
                raise UnknownBankAccount(reference)
            return self._open(row)

    def reseal(self) -> int:
        """Key rotation: re-encrypt every row sealed under a retired key with the current key.
        Returns how many rows were resealed."""
        with self._database.transaction() as session:
            rows = session.scalars(
                select(BankAccount).where(BankAccount.key_id != self._key_id)
            ).all()
            for row in rows:
                row.nonce, row.ciphertext = self._seal(row.reference, self._open(row))
                row.key_id = self._key_id
            return len(rows)

    def _seal(self, reference: str, details: BankDetails) -> tuple[bytes, bytes]:
        nonce = os.urandom(_NONCE_BYTES)
        plaintext = details.model_dump_json().encode()
        cipher = self._ciphers[self._key_id]
        return nonce, cipher.encrypt(nonce, plaintext, _associated_data(reference))

    def _open(self, row: BankAccount) -> BankDetails:
        cipher = self._ciphers.get(row.key_id)
        if cipher is None:
            raise BankDetailsUnreadable(f"no key {row.key_id!r} for {row.reference}")
        try:
            plaintext = cipher.decrypt(row.nonce, row.ciphertext, _associated_data(row.reference))
        except InvalidTag:
            raise BankDetailsUnreadable(f"{row.reference} does not open with its key") from None
        return BankDetails.model_validate_json(plaintext)


def _associated_data(reference: str) -> bytes:
    return f"cashback/bank_accounts/{reference}".encode()
