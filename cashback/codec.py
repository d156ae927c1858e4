"""Payload encryption for Temporal (R13): every payload the workflow and its clients exchange —
inputs, results, update arguments, query answers, failure details — is sealed with AES-GCM
before it reaches the Temporal server, so its history holds only ciphertext. The key id travels
in the payload's metadata, so keys can rotate: new payloads use the current key, old ones open
with the retired keys they name.

The codec server endpoint of the API (api/codec.py) uses the same codec to show decrypted
payloads to signed-in operators in the Temporal Web UI.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes
from temporalio.converter import PayloadCodec as _PayloadCodec

ENCODING = b"binary/encrypted"
_NONCE_BYTES = 12


class UnknownPayloadKey(Exception):
    """A payload sealed under a key this process does not have."""


class EncryptionCodec(_PayloadCodec):
    def __init__(
        self, key_id: str, key: bytes, retired_keys: Mapping[str, bytes] | None = None
    ) -> None:
        keys = {**(retired_keys or {}), key_id: key}
        for name, material in keys.items():
            if len(material) != 32:
                raise ValueError(f"payload key {name!r} must be 32 bytes (AES-256)")
        self._key_id = key_id
        self._ciphers = {name: AESGCM(material) for name, material in keys.items()}

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.seal(payload) for payload in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.open(payload) for payload in payloads]

    def seal(self, payload: Payload) -> Payload:
        nonce = os.urandom(_NONCE_BYTES)
        key_id = self._key_id.encode()
        sealed = self._ciphers[self._key_id].encrypt(nonce, payload.SerializeToString(), key_id)
        return Payload(
            metadata={"encoding": ENCODING, "encryption-key-id": key_id},
            data=nonce + sealed,
        )

    def open(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload  # not ours: left as it is (e.g. written before encryption)
        key_id = payload.metadata.get("encryption-key-id", b"").decode()
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise UnknownPayloadKey(f"no payload key {key_id!r} in this process")
        nonce, sealed = payload.data[:_NONCE_BYTES], payload.data[_NONCE_BYTES:]
        return Payload.FromString(cipher.decrypt(nonce, sealed, key_id.encode()))


def encrypted_data_converter(codec: EncryptionCodec) -> DataConverter:
    """The pydantic data converter with every payload, failure messages included, encrypted."""
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=codec,
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )
