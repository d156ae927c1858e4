"""Where payment runs keep their files (R14): the `pain.001` file and the list of its claims,
written once under the run's id and read back checked against the SHA-256 the run recorded;
the bank channel's outbox (a folder the bank's transfer software picks files up from) and inbox
(where it drops the bank's answers)."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

_KEY = re.compile(r"^[A-Za-z0-9_-]{1,64}/[A-Za-z0-9_.-]{1,64}$")


class RunFileError(Exception):
    """A run's file is missing, altered or could not be written; the message says which."""


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_once(path: Path, data: bytes) -> None:
    """Write `data` to `path` unless it exists with the same bytes; a different file there is
    never replaced (RunFileError). Owner-only: the files name accounts."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        if path.read_bytes() != data:
            raise RunFileError(f"{path.name} exists with other content; it is never replaced")
        return
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    try:
        os.link(temporary, path)  # fails if another writer got there first
    except FileExistsError:
        if path.read_bytes() != data:
            raise RunFileError(
                f"{path.name} exists with other content; it is never replaced"
            ) from None
    finally:
        temporary.unlink(missing_ok=True)


class LocalRunFiles:
    """The runs' files in a folder of the local disk, each written once."""

    def __init__(self, root: Path) -> None:
        self._root = root

    def _path(self, key: str) -> Path:
        if not _KEY.match(key):
            raise RunFileError(f"{key!r} is not a run file's key")
        return self._root / key

    def put(self, key: str, data: bytes) -> str:
        """Store `data` under `key` once; returns its SHA-256."""
        write_once(self._path(key), data)
        return sha256_hex(data)

    def get(self, key: str, sha256: str) -> bytes:
        """The file's bytes, refused when they are not the ones recorded (`sha256`)."""
        try:
            data = self._path(key).read_bytes()
        except FileNotFoundError:
            raise RunFileError(f"the run file {key} is missing") from None
        if sha256_hex(data) != sha256:
            raise RunFileError(f"the run file {key} no longer matches its recorded SHA-256")
        return data
