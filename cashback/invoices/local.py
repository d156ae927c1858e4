"""Invoices in a local directory: the embedded default, for one machine (R5).

Layout under `root`:
    objects/<key>         the invoice's bytes
    metadata/<key>.json   its SHA-256, size and content type (a sidecar that survives restarts)
    tmp/                  files being written, renamed into place when complete

Keeping the sidecars in their own tree means no invoice key can collide with a sidecar.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from datetime import timedelta
from pathlib import Path

from cashback.invoices.links import InvoiceLinks
from cashback.invoices.storage import (
    InvalidObjectKeyError,
    InvoiceNotFoundError,
    InvoiceStorageError,
    StoredInvoice,
    check_content_type,
    check_invoice_bytes,
    check_object_key,
    check_url_lifetime,
    sha256_hex,
)


class LocalInvoiceStorage:
    """An `InvoiceStorage` that keeps invoices as files under `root` (created if missing).

    Every file is written to `tmp/` and renamed into place, so a reader sees an invoice either
    whole or not at all. A put removes the old sidecar first and writes the new one last, so a
    sidecar always describes the bytes beside it; an invoice without a sidecar is not stored."""

    def __init__(self, root: Path, links: InvoiceLinks | None = None) -> None:
        self._root = root.resolve()
        self._links = links
        self._objects = self._root / "objects"
        self._metadata = self._root / "metadata"
        self._tmp = self._root / "tmp"
        for directory in (self._objects, self._metadata, self._tmp):
            directory.mkdir(parents=True, exist_ok=True)

    @property
    def root(self) -> Path:
        return self._root

    def put(
        self, object_key: str, data: bytes, content_type: str, *, sha256: str | None = None
    ) -> StoredInvoice:
        object_path, sidecar_path = self._paths(object_key)
        check_invoice_bytes(data)
        stored = StoredInvoice(
            object_key=object_key,
            sha256=sha256 or sha256_hex(data),
            content_type=check_content_type(content_type),
            size_bytes=len(data),
        )
        sidecar = {
            "sha256": stored.sha256,
            "content_type": stored.content_type,
            "size_bytes": stored.size_bytes,
        }
        try:
            sidecar_path.unlink(missing_ok=True)
            self._write_atomically(object_path, data)
            self._write_atomically(sidecar_path, json.dumps(sidecar).encode())
        except OSError as exc:  # a full disk, a read-only directory, a key that is a folder
            raise InvoiceStorageError(
                f"cannot store invoice {object_key!r} under {self._root}: {exc.strerror or exc}"
            ) from exc
        return stored

    def stored_sha256(self, object_key: str) -> str | None:
        stored = self._describe(object_key)
        return stored.sha256 if stored else None

    def get(self, object_key: str) -> bytes:
        stored = self._describe(object_key)
        if stored is None:
            raise InvoiceNotFoundError(f"no invoice is stored under {object_key!r}")
        object_path, _ = self._paths(object_key)
        try:
            data = object_path.read_bytes()
        except FileNotFoundError:  # deleted between the two reads
            raise InvoiceNotFoundError(f"no invoice is stored under {object_key!r}") from None
        if sha256_hex(data) != stored.sha256:
            raise InvoiceStorageError(
                f"invoice {object_key!r} in {self._objects} no longer matches its recorded SHA-256"
            )
        return data

    def delete(self, object_key: str) -> None:
        object_path, sidecar_path = self._paths(object_key)
        sidecar_path.unlink(missing_ok=True)  # first: the invoice counts as gone from here on
        object_path.unlink(missing_ok=True)

    @property
    def links(self) -> InvoiceLinks | None:
        return self._links

    def download_url(self, object_key: str, expires: timedelta) -> str:
        """A signed link through the API that expires with `expires` (`InvoiceLinks`); without
        links (the store used on its own, as in its tests) a `file://` URL."""
        check_url_lifetime(expires)
        if self._describe(object_key) is None:
            raise InvoiceNotFoundError(f"no invoice is stored under {object_key!r}")
        if self._links is not None:
            return self._links.url(object_key, expires)
        object_path, _ = self._paths(object_key)
        return object_path.as_uri()

    def content_type(self, object_key: str) -> str:
        """The content type recorded with the invoice. Raises `InvoiceNotFoundError`."""
        stored = self._describe(object_key)
        if stored is None:
            raise InvoiceNotFoundError(f"no invoice is stored under {object_key!r}")
        return stored.content_type

    def _describe(self, object_key: str) -> StoredInvoice | None:
        object_path, sidecar_path = self._paths(object_key)
        try:
            sidecar = json.loads(sidecar_path.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise InvoiceStorageError(
                f"cannot read the record of invoice {object_key!r} at {sidecar_path}: {exc}"
            ) from exc
        if not object_path.is_file():
            return None
        return StoredInvoice(
            object_key=object_key,
            sha256=str(sidecar["sha256"]),
            content_type=str(sidecar["content_type"]),
            size_bytes=int(sidecar["size_bytes"]),
        )

    def _paths(self, object_key: str) -> tuple[Path, Path]:
        """The invoice's file and its sidecar, both proven to lie inside the store."""
        check_object_key(object_key)
        object_path = self._objects / object_key
        sidecar_path = self._metadata / f"{object_key}.json"
        # The key's segments are checked above; resolving also catches symlinks planted inside.
        for path, tree in ((object_path, self._objects), (sidecar_path, self._metadata)):
            if not path.resolve().is_relative_to(tree):
                raise InvalidObjectKeyError(
                    f"invoice object key {object_key!r} leads outside the store"
                )
        return object_path, sidecar_path

    def _write_atomically(self, path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=self._tmp, prefix="put-")
        try:
            with os.fdopen(fd, "wb") as tmp:
                tmp.write(data)
                tmp.flush()
                os.fsync(tmp.fileno())
            os.replace(tmp_name, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp_name)
            raise
        _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
