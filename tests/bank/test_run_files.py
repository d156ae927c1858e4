"""R14: a payment run's files are written once and read back checked, on the local disk and in
S3 (moto's server, as MinIO or AWS would answer): the same bytes again are no error, other bytes
are refused, an altered or missing file is named, never served."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from cashback.bank.run_files import LocalRunFiles, RunFileError, RunFiles, S3RunFiles, sha256_hex
from tests.invoices.conftest import BUCKET, S3Endpoint

PREFIX = "payment-runs/"


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.s3)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[RunFiles, object]]:
    if request.param == "local":
        yield LocalRunFiles(tmp_path), tmp_path
    else:
        endpoint: S3Endpoint = request.getfixturevalue("s3_endpoint")
        yield S3RunFiles(endpoint.admin, BUCKET, PREFIX), endpoint


def alter(where: object, key: str, data: bytes) -> None:
    """Change a stored file behind the store's back."""
    if isinstance(where, Path):
        (where / key).write_bytes(data)
    else:
        assert isinstance(where, S3Endpoint)
        where.admin.put_object(Bucket=BUCKET, Key=PREFIX + key, Body=data)


def test_r14_a_run_file_is_written_once_and_read_back_checked(
    store: tuple[RunFiles, object],
) -> None:
    """R14: put returns the SHA-256; get returns the bytes; the same bytes again are accepted,
    other bytes under the key are refused; an altered file, a missing one and a key that could
    escape the store are refused with a sentence naming the file."""
    files, where = store
    key = f"run_{uuid.uuid4().hex[:16]}/pain.001.xml"
    content = b"<Document>run</Document>"
    digest = files.put(key, content)
    assert digest == sha256_hex(content)
    assert files.get(key, digest) == content
    assert files.put(key, content) == digest
    with pytest.raises(RunFileError, match="never replaced"):
        files.put(key, b"<Document>other</Document>")
    assert files.get(key, digest) == content
    alter(where, key, b"<Document>tampered</Document>")
    with pytest.raises(RunFileError, match="no longer matches"):
        files.get(key, digest)
    with pytest.raises(RunFileError, match="missing"):
        files.get(f"run_{uuid.uuid4().hex[:16]}/pain.001.xml", digest)
    with pytest.raises(RunFileError, match="not a run file's key"):
        files.put("../outside/pain.001.xml", content)
