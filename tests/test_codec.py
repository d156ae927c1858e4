"""R13: the payload codec seals with the current key, names the key in the payload, and opens
payloads sealed under retired keys after a rotation; a payload whose key is gone does not
open."""

from __future__ import annotations

import pytest
from cryptography.exceptions import InvalidTag
from temporalio.api.common.v1 import Payload

from cashback.codec import ENCODING, EncryptionCodec, UnknownPayloadKey

OLD, NEW = bytes(range(32)), bytes(range(32, 64))
PLAIN = Payload(metadata={"encoding": b"json/plain"}, data=b'{"holder_name":"Contoso GmbH"}')


async def test_r13_payloads_are_sealed_with_the_current_key() -> None:
    [sealed] = await EncryptionCodec("k1", OLD).encode([PLAIN])
    assert sealed.metadata["encoding"] == ENCODING
    assert sealed.metadata["encryption-key-id"] == b"k1"
    assert b"Contoso" not in sealed.data
    assert await EncryptionCodec("k1", OLD).decode([sealed]) == [PLAIN]


async def test_r13_after_a_rotation_old_payloads_still_open() -> None:
    """R13: histories written before the rotation open with the retired key; new payloads use
    the new key."""
    [before] = await EncryptionCodec("k1", OLD).encode([PLAIN])
    rotated = EncryptionCodec("k2", NEW, retired_keys={"k1": OLD})
    [after] = await rotated.encode([PLAIN])
    assert after.metadata["encryption-key-id"] == b"k2"
    assert await rotated.decode([before, after]) == [PLAIN, PLAIN]


async def test_r13_a_payload_without_its_key_or_tampered_does_not_open() -> None:
    [sealed] = await EncryptionCodec("k1", OLD).encode([PLAIN])
    with pytest.raises(UnknownPayloadKey, match="k1"):
        await EncryptionCodec("k2", NEW).decode([sealed])
    flipped = bytes([sealed.data[-1] ^ 0x01])  # one bit of the tag, always a change
    tampered = Payload(metadata=sealed.metadata, data=sealed.data[:-1] + flipped)
    with pytest.raises(InvalidTag):  # AES-GCM authenticates every byte
        await EncryptionCodec("k1", OLD).decode([tampered])


async def test_payloads_that_were_never_encrypted_pass_through() -> None:
    assert await EncryptionCodec("k1", OLD).decode([PLAIN]) == [PLAIN]


def test_keys_must_be_aes_256() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        EncryptionCodec("k1", b"short")
