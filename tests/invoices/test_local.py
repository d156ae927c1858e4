"""R5 on the embedded default: invoices as files that survive a restart and stay inside root."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path

import pytest

from cashback.invoices import (
    InvalidObjectKeyError,
    InvoiceStorageError,
    LocalInvoiceStorage,
    sha256_hex,
)

INVOICE = b"%PDF-1.7\n% invoice 2024-0042 for Contoso GmbH\n%%EOF\n"
PDF = "application/pdf"


def test_r5_invoices_survive_a_restart(tmp_path: Path, object_key: str) -> None:
    """R5: a new store on the same directory (a restarted worker) finds the invoice, its
    SHA-256 and its content type."""
    LocalInvoiceStorage(tmp_path).put(object_key, INVOICE, PDF)

    restarted = LocalInvoiceStorage(tmp_path)

    assert restarted.stored_sha256(object_key) == sha256_hex(INVOICE)
    assert restarted.get(object_key) == INVOICE
    sidecar = json.loads((tmp_path / "metadata" / f"{object_key}.json").read_text())
    assert sidecar == {
        "sha256": sha256_hex(INVOICE),
        "content_type": PDF,
        "size_bytes": len(INVOICE),
    }


def test_r5_files_are_written_whole_through_tmp(tmp_path: Path, object_key: str) -> None:
    """R5: writes go through tmp/ and are renamed into place; nothing is left behind."""
    store = LocalInvoiceStorage(tmp_path)

    store.put(object_key, INVOICE, PDF)

    assert (tmp_path / "objects" / object_key).read_bytes() == INVOICE
    assert list((tmp_path / "tmp").iterdir()) == []


def test_r5_failed_put_leaves_no_partial_file(tmp_path: Path) -> None:
    """R5: a put that cannot complete raises a clear error and leaves no temporary file."""
    store = LocalInvoiceStorage(tmp_path)
    store.put("claims/1/invoice.pdf", INVOICE, PDF)

    with pytest.raises(InvoiceStorageError, match="cannot store invoice 'claims/1'"):
        store.put("claims/1", INVOICE, PDF)  # a folder already has this name

    assert list((tmp_path / "tmp").iterdir()) == []
    assert store.stored_sha256("claims/1") is None


def test_r5_invoice_without_its_record_counts_as_absent(tmp_path: Path, object_key: str) -> None:
    """R5: bytes whose sidecar is missing (a put cut short) are not reported as stored."""
    store = LocalInvoiceStorage(tmp_path)
    store.put(object_key, INVOICE, PDF)

    (tmp_path / "metadata" / f"{object_key}.json").unlink()

    assert store.stored_sha256(object_key) is None


def test_r5_invoice_altered_on_disk_is_refused_on_read(tmp_path: Path, object_key: str) -> None:
    """R5: bytes that no longer hash to the recorded SHA-256 are not handed out as the invoice."""
    store = LocalInvoiceStorage(tmp_path)
    store.put(object_key, INVOICE, PDF)

    (tmp_path / "objects" / object_key).write_bytes(b"forged")

    with pytest.raises(InvoiceStorageError, match="no longer matches its recorded SHA-256"):
        store.get(object_key)


def test_r5_path_traversal_writes_nothing_outside_root(tmp_path: Path) -> None:
    """R5: '..' and absolute keys are refused before any file is touched."""
    root = tmp_path / "store"
    store = LocalInvoiceStorage(root)

    for key in ("../escaped.pdf", str(tmp_path / "escaped.pdf"), "a/../../escaped.pdf"):
        with pytest.raises(InvalidObjectKeyError):
            store.put(key, INVOICE, PDF)

    assert sorted(p.name for p in tmp_path.iterdir()) == ["store"]


def test_r5_symlink_planted_in_the_store_cannot_lead_outside(tmp_path: Path) -> None:
    """R5: even a symlink inside the store's tree does not let a key escape it."""
    outside = tmp_path / "outside"
    outside.mkdir()
    store = LocalInvoiceStorage(tmp_path / "store")
    os.symlink(outside, tmp_path / "store" / "objects" / "claims")

    with pytest.raises(InvalidObjectKeyError, match="outside the store"):
        store.put("claims/invoice.pdf", INVOICE, PDF)

    assert list(outside.iterdir()) == []


def test_r5_download_url_is_a_file_url_inside_root(tmp_path: Path, object_key: str) -> None:
    """R5: without signed links (the store on its own) the link is a file:// URL in the store."""
    store = LocalInvoiceStorage(tmp_path)
    store.put(object_key, INVOICE, PDF)

    url = store.download_url(object_key, timedelta(hours=1))

    assert url == (tmp_path.resolve() / "objects" / object_key).as_uri()
