"""What every invoice store promises (R5), whatever keeps the bytes: S3, MinIO or a directory."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

# S3 caps keys at 1024 bytes of UTF-8; the local store keeps to the same rule so that keys
# move between stores unchanged.
MAX_KEY_BYTES = 1024
# SigV4 presigned URLs live at most seven days; the local store keeps the same bounds.
MAX_URL_LIFETIME = timedelta(days=7)


class InvoiceStorageError(Exception):
    """The store could not do what was asked; the message says what a person can fix.

    Messages name buckets, endpoints, keys and access key ids, never a secret."""


class InvoiceNotFoundError(InvoiceStorageError, KeyError):
    """No invoice is stored under the key."""

    def __str__(self) -> str:  # KeyError would print the message quoted
        return str(self.args[0])


class InvalidObjectKeyError(InvoiceStorageError, ValueError):
    """The key could escape the store or is not a key S3 and a file system both accept."""


@dataclass(frozen=True, slots=True)
class StoredInvoice:
    """An invoice as stored: the fields of `activities.invoices.InvoiceRef`, by the same names,
    so `InvoiceRef.model_validate(stored, from_attributes=True)` builds the claim's reference."""

    object_key: str
    sha256: str
    content_type: str
    size_bytes: int


class InvoiceStorage(Protocol):
    """Stores the customer invoices of claims (R5).

    The API puts the invoice before it starts the claim's workflow and keeps the returned
    SHA-256 with the claim; the workflow's activity asks `stored_sha256` whether the invoice
    is still there, unchanged (this satisfies `activities.invoices.InvoiceStore`)."""

    def put(
        self, object_key: str, data: bytes, content_type: str, *, sha256: str | None = None
    ) -> StoredInvoice:
        """Store `data` under `object_key` (replacing what was there) and record its SHA-256,
        size and content type. `sha256`: the caller's hash of `data` (`sha256_hex`), when it
        has one, so it is not computed twice. Raises `InvalidObjectKeyError` for an unsafe
        key."""
        ...

    def stored_sha256(self, object_key: str) -> str | None:
        """The SHA-256 recorded when `object_key` was put, or None when no such invoice is
        stored. A store that cannot answer (missing bucket, refused credentials) raises
        `InvoiceStorageError` rather than claim the invoice is absent."""
        ...

    def get(self, object_key: str) -> bytes:
        """The invoice's bytes, checked against the recorded SHA-256. Raises
        `InvoiceNotFoundError` when absent and `InvoiceStorageError` when altered."""
        ...

    def delete(self, object_key: str) -> None:
        """Remove the invoice (an orphan of a failed submission); absent keys are no error."""
        ...

    def download_url(self, object_key: str, expires: timedelta) -> str:
        """A URL an operator can open to download the invoice, valid for `expires` (at most
        seven days). Raises `InvoiceNotFoundError` when absent."""
        ...


def sha256_hex(data: bytes) -> str:
    """The lowercase hex SHA-256 of `data`, as `InvoiceRef.sha256` expects it."""
    return hashlib.sha256(data).hexdigest()


def check_object_key(object_key: str) -> str:
    """Return `object_key` if it is a relative, '/'-separated path without '.' or '..' segments,
    empty segments, backslashes or control characters; raise `InvalidObjectKeyError` otherwise.

    The same rule holds for every store, so a key accepted by one is accepted by all."""
    if not object_key:
        raise InvalidObjectKeyError("an invoice object key must not be empty")
    if len(object_key.encode("utf-8", errors="surrogatepass")) > MAX_KEY_BYTES:
        raise InvalidObjectKeyError(f"an invoice object key must be at most {MAX_KEY_BYTES} bytes")
    if object_key.startswith("/"):
        raise InvalidObjectKeyError(f"invoice object key {object_key!r} must be relative")
    if "\\" in object_key or any(ord(char) < 0x20 or ord(char) == 0x7F for char in object_key):
        raise InvalidObjectKeyError(
            f"invoice object key {object_key!r} must not contain backslashes or control characters"
        )
    if any(segment in ("", ".", "..") for segment in object_key.split("/")):
        raise InvalidObjectKeyError(
            f"invoice object key {object_key!r} must not contain empty, '.' or '..' segments"
        )
    return object_key


def check_content_type(content_type: str) -> str:
    """Return `content_type` if it is a non-empty single-line value (it becomes a header)."""
    if not content_type.strip() or any(ord(char) < 0x20 for char in content_type):
        raise ValueError(f"content type {content_type!r} must be a non-empty single line")
    return content_type


def check_invoice_bytes(data: bytes) -> bytes:
    """Return `data` if it is not empty: an empty file is no invoice (R5)."""
    if not data:
        raise ValueError("an invoice must not be empty (R5)")
    return data


def check_url_lifetime(expires: timedelta) -> int:
    """`expires` in whole seconds, if it lies between one second and seven days."""
    seconds = int(expires.total_seconds())
    if not 1 <= seconds <= MAX_URL_LIFETIME.total_seconds():
        raise ValueError(f"a download URL must live between 1 second and 7 days, not {expires}")
    return seconds
