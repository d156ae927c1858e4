"""Where payment runs keep their files (R14): the `pain.001` file and the list of its claims,
written once under the run's id and read back checked against the SHA-256 the run recorded;
the bank channel's outbox (a folder the bank's transfer software picks files up from) and inbox
(where it drops the bank's answers)."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from botocore.exceptions import BotoCoreError, ClientError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

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


class RunFiles(Protocol):
    """Where runs keep their files: each key written once, read back checked."""

    def put(self, key: str, data: bytes) -> str:
        """Store `data` under `key` once (the same bytes again are no error, other bytes are
        refused with RunFileError); returns its SHA-256."""
        ...

    def get(self, key: str, sha256: str) -> bytes:
        """The bytes under `key`; RunFileError when missing or not the ones recorded."""
        ...


def _checked_key(key: str) -> str:
    if not _KEY.match(key):
        raise RunFileError(f"{key!r} is not a run file's key")
    return key


class LocalRunFiles:
    """The runs' files in a folder of the local disk, each written once."""

    def __init__(self, root: Path) -> None:
        self._root = root

    def _path(self, key: str) -> Path:
        return self._root / _checked_key(key)

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


class S3RunFiles:
    """The runs' files in an S3 bucket (the invoices' bucket, under `prefix`), encrypted at rest
    (SSE-S3), each with its SHA-256 as metadata; written once and read back checked."""

    def __init__(self, client: S3Client, bucket: str, prefix: str = "payment-runs/") -> None:
        self._client = client
        self._bucket = bucket
        self._prefix = prefix

    def put(self, key: str, data: bytes) -> str:
        name = self._prefix + _checked_key(key)
        digest = sha256_hex(data)
        try:
            head = self._client.head_object(Bucket=self._bucket, Key=name)
        except ClientError as error:
            if _status(error) != 404:
                raise self._failed(error, f"look up {name}") from None
        except BotoCoreError as error:
            raise self._failed(error, f"look up {name}") from None
        else:
            if head.get("Metadata", {}).get("sha256") != digest:
                raise RunFileError(f"{name} exists with other content; it is never replaced")
            return digest
        try:
            self._client.put_object(
                Bucket=self._bucket,
                Key=name,
                Body=data,
                ServerSideEncryption="AES256",
                Metadata={"sha256": digest},
                ContentType="text/csv" if key.endswith(".csv") else "application/xml",
            )
        except (ClientError, BotoCoreError) as error:
            raise self._failed(error, f"store {name}") from None
        return digest

    def get(self, key: str, sha256: str) -> bytes:
        name = self._prefix + _checked_key(key)
        try:
            data = self._client.get_object(Bucket=self._bucket, Key=name)["Body"].read()
        except ClientError as error:
            if _status(error) == 404:
                raise RunFileError(f"the run file {name} is missing") from None
            raise self._failed(error, f"read {name}") from None
        except BotoCoreError as error:
            raise self._failed(error, f"read {name}") from None
        if sha256_hex(data) != sha256:
            raise RunFileError(f"the run file {name} no longer matches its recorded SHA-256")
        return data

    def _failed(self, error: Exception, action: str) -> RunFileError:
        reason = (
            error.response.get("Error", {}).get("Code", "")
            if isinstance(error, ClientError)
            else type(error).__name__
        )
        return RunFileError(f"could not {action} in bucket {self._bucket!r}: {reason}")


def _status(error: ClientError) -> int:
    status: int = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return status
