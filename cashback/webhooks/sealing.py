"""Webhook signing secrets, sealed at rest with the encryption of bank details (R13): AES-GCM
under the bank-details key (`CASHBACK_BANK_DETAILS_KEY`, its id in `key_id`), a fresh nonce
per secret, the endpoint's id bound in as associated data (a ciphertext copied onto another
endpoint does not open)."""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_NONCE_BYTES = 12
SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and 24 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(os.urandom(24)).decode()


@dataclass(frozen=True)
class Sealed:
    key_id: str
    nonce: bytes
    ciphertext: bytes


class SecretUnreadable(Exception):
    """A sealed secret does not open with the configured keys."""


class SecretBox:
    def __init__(
        self, key: bytes, *, key_id: str, retired_keys: Mapping[str, bytes] | None = None
    ) -> None:
        keys = {**(retired_keys or {}), key_id: key}
        self._key_id = key_id
        self._ciphers = {name: AESGCM(material) for name, material in keys.items()}

    def seal(self, endpoint_id: str, secret: str) -> Sealed:
        nonce = os.urandom(_NONCE_BYTES)
        cipher = self._ciphers[self._key_id]
        sealed = cipher.encrypt(nonce, secret.encode(), _associated_data(endpoint_id))
        return Sealed(self._key_id, nonce, sealed)

    def open(self, endpoint_id: str, sealed: Sealed) -> str:
        cipher = self._ciphers.get(sealed.key_id)
        if cipher is None:
            raise SecretUnreadable(f"no key {sealed.key_id!r} for endpoint {endpoint_id}")
        try:
            plain = cipher.decrypt(sealed.nonce, sealed.ciphertext, _associated_data(endpoint_id))
        except InvalidTag:
            raise SecretUnreadable(f"endpoint {endpoint_id}: its secret does not open") from None
        return plain.decode()


def _associated_data(endpoint_id: str) -> bytes:
    return f"cashback/webhook_endpoints/{endpoint_id}".encode()
