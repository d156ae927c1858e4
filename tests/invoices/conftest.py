"""Invoice stores under test: a directory in tmp_path, and S3 spoken over HTTP to moto's server.

The moto server runs in this process on a free loopback port for the whole session; the stores
reach it with real boto3 clients, exactly as they would reach MinIO or AWS.
"""

from __future__ import annotations

import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

import boto3
import pytest
from moto.server import ThreadedMotoServer

from cashback.invoices import InvoiceStorage, LocalInvoiceStorage, S3InvoiceStorage

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

REGION: Final = "eu-central-1"
BUCKET = "cashback-invoices"
# moto accepts any credentials until authentication is switched on (see `moto_auth`).
ACCESS_KEY_ID = "invoice-tests"
SECRET_ACCESS_KEY = "invoice-tests-secret"


@dataclass(frozen=True)
class S3Endpoint:
    url: str
    admin: S3Client  # a plain boto3 client, for looking at what the store left in the bucket

    def storage(
        self,
        *,
        bucket: str = BUCKET,
        endpoint_url: str | None = None,
        access_key_id: str = ACCESS_KEY_ID,
        secret_access_key: str = SECRET_ACCESS_KEY,
        checksum_sha256: bool = True,
    ) -> S3InvoiceStorage:
        """The store under test, configured as production would configure it for MinIO."""
        return S3InvoiceStorage(
            bucket=bucket,
            endpoint_url=endpoint_url or self.url,
            region=REGION,
            access_key_id=access_key_id,
            secret_access_key=secret_access_key,
            checksum_sha256=checksum_sha256,
        )

    def moto_api(self, path: str, body: str) -> None:
        request = urllib.request.Request(
            f"{self.url}/moto-api/{path}",
            data=body.encode(),
            method="POST",
            headers={"Content-Type": "text/plain"},  # a form body would hide the value
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200


@contextmanager
def moto_s3(bucket: str) -> Iterator[tuple[str, S3Client]]:
    """moto's S3 server on 127.0.0.1 (port 0: the OS picks a free one), with `bucket` made: its
    URL and an admin client."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        admin = boto3.client(
            "s3",
            endpoint_url=url,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY_ID,
            aws_secret_access_key=SECRET_ACCESS_KEY,
        )
        admin.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        yield url, admin
    finally:
        server.stop()


@pytest.fixture(scope="session")
def s3_storage(s3_endpoint: S3Endpoint) -> S3InvoiceStorage:
    return s3_endpoint.storage()


@pytest.fixture
def local_storage(tmp_path: Path) -> LocalInvoiceStorage:
    return LocalInvoiceStorage(tmp_path / "invoices")


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.s3)])
def storage(request: pytest.FixtureRequest) -> InvoiceStorage:
    """Each store in turn: the behaviour the API and the workflow rely on must not differ."""
    store: InvoiceStorage = request.getfixturevalue(f"{request.param}_storage")
    return store


@pytest.fixture
def object_key() -> str:
    """A fresh key per test, shaped like the keys the API will use."""
    return f"claims/{uuid.uuid4()}/invoice.pdf"
