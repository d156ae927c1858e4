"""R5: what every invoice store does, proven on the local directory and on S3 (moto over HTTP)."""

from __future__ import annotations

import os
import urllib.request
from datetime import timedelta

import pytest

from activities.invoices import InvoiceActivities, InvoiceRef
from cashback.invoices import (
    InvalidObjectKeyError,
    InvoiceNotFoundError,
    InvoiceStorage,
    StoredInvoice,
    sha256_hex,
)

INVOICE = b"%PDF-1.7\n% invoice 2024-0042 for Contoso GmbH\n%%EOF\n"
PDF = "application/pdf"


def test_r5_put_then_get_round_trips_with_sha256_size_and_content_type(
    storage: InvoiceStorage, object_key: str
) -> None:
    """R5: the invoice is stored as received; its SHA-256, size and content type are recorded."""
    stored = storage.put(object_key, INVOICE, PDF)

    assert stored == StoredInvoice(
        object_key=object_key, sha256=sha256_hex(INVOICE), content_type=PDF, size_bytes=len(INVOICE)
    )
    assert storage.get(object_key) == INVOICE
    assert storage.stored_sha256(object_key) == sha256_hex(INVOICE)


def test_r5_stored_invoice_becomes_the_claims_invoice_ref(
    storage: InvoiceStorage, object_key: str
) -> None:
    """R5: what `put` returns is what the claim carries into its workflow (InvoiceRef)."""
    stored = storage.put(object_key, INVOICE, PDF)

    ref = InvoiceRef.model_validate(stored, from_attributes=True)

    assert (ref.object_key, ref.sha256, ref.content_type, ref.size_bytes) == (
        object_key,
        stored.sha256,
        PDF,
        len(INVOICE),
    )


def test_r5_workflow_check_finds_the_stored_invoice_intact(
    storage: InvoiceStorage, object_key: str
) -> None:
    """R5: the store is the `InvoiceStore` the workflow's check_invoice activity asks."""
    ref = InvoiceRef.model_validate(storage.put(object_key, INVOICE, PDF), from_attributes=True)
    activities = InvoiceActivities(storage)

    assert activities.check_invoice(ref).is_intact
    assert not activities.check_invoice(ref.model_copy(update={"sha256": "0" * 64})).is_intact
    storage.delete(object_key)
    assert not activities.check_invoice(ref).present


def test_r5_five_megabyte_invoice_round_trips(storage: InvoiceStorage, object_key: str) -> None:
    """R5: a scanned invoice of 5 MB is stored and read back byte for byte."""
    scan = os.urandom(5 * 1024 * 1024)

    stored = storage.put(object_key, scan, "image/tiff")

    assert stored.size_bytes == 5 * 1024 * 1024
    assert storage.stored_sha256(object_key) == sha256_hex(scan)
    assert storage.get(object_key) == scan


def test_r5_unknown_key_is_not_stored(storage: InvoiceStorage, object_key: str) -> None:
    """R5: asking for a key nobody stored says "absent", and reading it says which key."""
    assert storage.stored_sha256(object_key) is None
    with pytest.raises(InvoiceNotFoundError, match=object_key):
        storage.get(object_key)
    with pytest.raises(InvoiceNotFoundError, match=object_key):
        storage.download_url(object_key, timedelta(minutes=5))


def test_r5_put_again_replaces_the_invoice_and_its_sha256(
    storage: InvoiceStorage, object_key: str
) -> None:
    """R5: the SHA-256 always describes the bytes stored now, not an earlier upload."""
    storage.put(object_key, INVOICE, PDF)
    corrected = INVOICE + b"% corrected\n"

    storage.put(object_key, corrected, PDF)

    assert storage.stored_sha256(object_key) == sha256_hex(corrected)
    assert storage.get(object_key) == corrected


def test_r5_delete_removes_an_orphan_and_is_idempotent(
    storage: InvoiceStorage, object_key: str
) -> None:
    """R5: the API removes the invoice of a submission that failed; twice is no error."""
    storage.put(object_key, INVOICE, PDF)

    storage.delete(object_key)
    storage.delete(object_key)

    assert storage.stored_sha256(object_key) is None
    with pytest.raises(InvoiceNotFoundError):
        storage.get(object_key)


def test_r5_download_url_serves_the_invoice(storage: InvoiceStorage, object_key: str) -> None:
    """R5: an operator's download link (presigned for S3, file:// locally) yields the bytes."""
    storage.put(object_key, INVOICE, PDF)

    url = storage.download_url(object_key, timedelta(minutes=15))

    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.read() == INVOICE


@pytest.mark.parametrize("expires", [timedelta(0), timedelta(seconds=-1), timedelta(days=8)])
def test_download_url_lifetime_is_bounded(
    storage: InvoiceStorage, object_key: str, expires: timedelta
) -> None:
    storage.put(object_key, INVOICE, PDF)
    with pytest.raises(ValueError, match="7 days"):
        storage.download_url(object_key, expires)


def test_r5_empty_file_is_no_invoice(storage: InvoiceStorage, object_key: str) -> None:
    """R5: without an invoice the submission cannot be completed; an empty file is none."""
    with pytest.raises(ValueError, match="empty"):
        storage.put(object_key, b"", PDF)
    assert storage.stored_sha256(object_key) is None


@pytest.mark.parametrize("content_type", ["", "  ", "application/pdf\r\nX-Evil: 1"])
def test_content_type_must_be_one_line(
    storage: InvoiceStorage, object_key: str, content_type: str
) -> None:
    with pytest.raises(ValueError, match="content type"):
        storage.put(object_key, INVOICE, content_type)


UNSAFE_KEYS = [
    "../outside.pdf",
    "claims/../../outside.pdf",
    "/etc/passwd",
    "claims/./invoice.pdf",
    "claims//invoice.pdf",
    "claims/",
    "..\\outside.pdf",
    "claims/in\x00voice.pdf",
    "",
    "x" * 1025,
]


@pytest.mark.parametrize("key", UNSAFE_KEYS)
def test_r5_unsafe_keys_are_refused_by_every_operation(storage: InvoiceStorage, key: str) -> None:
    """R5: no key can reach outside the store ('..', absolute paths, backslashes, NUL), and
    both stores refuse the same keys, so a key is portable between them."""
    with pytest.raises(InvalidObjectKeyError):
        storage.put(key, INVOICE, PDF)
    with pytest.raises(InvalidObjectKeyError):
        storage.stored_sha256(key)
    with pytest.raises(InvalidObjectKeyError):
        storage.get(key)
    with pytest.raises(InvalidObjectKeyError):
        storage.delete(key)
    with pytest.raises(InvalidObjectKeyError):
        storage.download_url(key, timedelta(minutes=5))


def test_r5_keys_with_unicode_and_spaces_are_fine(storage: InvoiceStorage) -> None:
    """R5: a reseller's file name may carry umlauts and spaces."""
    key = "claims/Müller & Söhne/Rechnung 2024-0042.pdf"
    storage.put(key, INVOICE, PDF)
    assert storage.get(key) == INVOICE
    with urllib.request.urlopen(storage.download_url(key, timedelta(minutes=1))) as response:
        assert response.read() == INVOICE
    storage.delete(key)
