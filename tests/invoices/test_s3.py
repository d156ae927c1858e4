"""R5 on S3: what the S3 store leaves in the bucket, and errors a person can act on.

Every test talks HTTP to moto's S3 server on loopback through real boto3 clients; nothing is
patched. The checksum test puts a small HTTP proxy in front of moto that plays an S3-compatible
server without checksum support.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest

from cashback.invoices import InvoiceStorageError, S3InvoiceStorage, sha256_hex
from tests.invoices.conftest import REGION, SECRET_ACCESS_KEY, S3Endpoint

pytestmark = pytest.mark.s3

INVOICE = b"%PDF-1.7\n% invoice 2024-0042 for Contoso GmbH\n%%EOF\n"
PDF = "application/pdf"


def test_r5_upload_is_encrypted_typed_and_carries_its_sha256(
    s3_endpoint: S3Endpoint, s3_storage: S3InvoiceStorage, object_key: str
) -> None:
    """R5: head_object reports SSE-S3 (AES256), the content type, the SHA-256 as
    x-amz-meta-sha256, and the ChecksumSHA256 the server verified on upload."""
    s3_storage.put(object_key, INVOICE, PDF)

    head = s3_endpoint.admin.head_object(
        Bucket=s3_storage.bucket, Key=object_key, ChecksumMode="ENABLED"
    )

    assert head["ServerSideEncryption"] == "AES256"
    assert head["ContentType"] == PDF
    assert head["ContentLength"] == len(INVOICE)
    headers = head["ResponseMetadata"]["HTTPHeaders"]
    assert headers["x-amz-meta-sha256"] == sha256_hex(INVOICE)
    assert head.get("ChecksumSHA256") == base64.b64encode(hashlib.sha256(INVOICE).digest()).decode()


def test_r5_missing_bucket_is_named_in_the_error(s3_endpoint: S3Endpoint, object_key: str) -> None:
    """R5: a misconfigured bucket is reported as such, never as "no invoice stored"."""
    store = s3_endpoint.storage(bucket="no-such-invoice-bucket")
    expected = "S3 bucket 'no-such-invoice-bucket' does not exist"

    with pytest.raises(InvoiceStorageError, match=expected):
        store.put(object_key, INVOICE, PDF)
    with pytest.raises(InvoiceStorageError, match=expected):
        store.stored_sha256(object_key)
    with pytest.raises(InvoiceStorageError, match=expected):
        store.get(object_key)
    with pytest.raises(InvoiceStorageError, match=expected):
        store.download_url(object_key, timedelta(minutes=5))


def test_r5_invoice_replaced_behind_the_stores_back_is_refused_on_read(
    s3_endpoint: S3Endpoint, s3_storage: S3InvoiceStorage, object_key: str
) -> None:
    """R5: bytes that no longer hash to the recorded SHA-256 are not handed out as the invoice."""
    s3_storage.put(object_key, INVOICE, PDF)
    s3_endpoint.admin.put_object(
        Bucket=s3_storage.bucket,
        Key=object_key,
        Body=b"forged",
        Metadata={"sha256": sha256_hex(INVOICE)},
    )

    with pytest.raises(InvoiceStorageError, match="no longer matches its recorded SHA-256"):
        s3_storage.get(object_key)


def test_unreachable_endpoint_is_named_in_the_error(object_key: str) -> None:
    """A wrong endpoint URL says which URL could not be reached."""
    store = S3InvoiceStorage(
        bucket="invoices",
        endpoint_url="http://127.0.0.1:9",  # discard port: nothing listens
        access_key_id="x",
        secret_access_key="y",
        connect_timeout=1,
    )
    with pytest.raises(InvoiceStorageError, match=r"http://127\.0\.0\.1:9"):
        store.stored_sha256(object_key)


def test_credentials_come_in_pairs() -> None:
    with pytest.raises(ValueError, match="both"):
        S3InvoiceStorage(bucket="invoices", access_key_id="only-the-id")


# --- wrong credentials: moto checks signatures against its IAM users once auth is switched on


@pytest.fixture
def moto_auth(s3_endpoint: S3Endpoint) -> Iterator[tuple[str, str]]:
    """An IAM user allowed everything on S3; moto authenticates every request while this lasts."""
    iam: Any = boto3.client(  # boto3-stubs[s3] carries no IAM types
        "iam",
        endpoint_url=s3_endpoint.url,
        region_name=REGION,
        aws_access_key_id="admin",
        aws_secret_access_key="admin",
    )
    user = f"invoice-operator-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=user)
    iam.put_user_policy(
        UserName=user,
        PolicyName="invoices",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
            }
        ),
    )
    key = iam.create_access_key(UserName=user)["AccessKey"]
    s3_endpoint.moto_api("reset-auth", "0")
    try:
        yield key["AccessKeyId"], key["SecretAccessKey"]
    finally:
        s3_endpoint.moto_api("reset-auth", "inf")
        iam.delete_access_key(UserName=user, AccessKeyId=key["AccessKeyId"])
        iam.delete_user_policy(UserName=user, PolicyName="invoices")
        iam.delete_user(UserName=user)


def test_r5_correct_credentials_pass_moto_authentication(
    s3_endpoint: S3Endpoint, moto_auth: tuple[str, str], object_key: str
) -> None:
    """The control for the two tests below: with the right key, the store works."""
    key_id, secret = moto_auth
    store = s3_endpoint.storage(access_key_id=key_id, secret_access_key=secret)

    store.put(object_key, INVOICE, PDF)

    assert store.stored_sha256(object_key) == sha256_hex(INVOICE)


def test_r5_unknown_access_key_id_is_named_and_the_secret_is_not(
    s3_endpoint: S3Endpoint, moto_auth: tuple[str, str], object_key: str
) -> None:
    """R5: an unknown access key id is reported as such (from put and from the workflow's
    check alike), and the secret appears nowhere in the error."""
    store = s3_endpoint.storage(access_key_id="AKIAUNKNOWN0000", secret_access_key=moto_auth[1])
    expected = "does not know the access key id 'AKIAUNKNOWN0000'"

    with pytest.raises(InvoiceStorageError, match=expected) as put_error:
        store.put(object_key, INVOICE, PDF)
    with pytest.raises(InvoiceStorageError, match=expected) as check_error:
        store.stored_sha256(object_key)

    for error in (put_error.value, check_error.value):
        assert moto_auth[1] not in str(error)
        assert moto_auth[1] not in str(error.__cause__)


def test_r5_wrong_secret_is_reported_without_revealing_it(
    s3_endpoint: S3Endpoint, moto_auth: tuple[str, str], object_key: str
) -> None:
    """R5: a wrong secret access key is reported as a wrong secret, and never shown."""
    key_id, _ = moto_auth
    wrong_secret = "wrong-" + SECRET_ACCESS_KEY
    store = s3_endpoint.storage(access_key_id=key_id, secret_access_key=wrong_secret)
    expected = "the configured secret access key is wrong"

    with pytest.raises(InvoiceStorageError, match=expected) as put_error:
        store.put(object_key, INVOICE, PDF)
    with pytest.raises(InvoiceStorageError, match=expected) as check_error:
        store.stored_sha256(object_key)
    with pytest.raises(InvoiceStorageError, match=expected):
        store.get(object_key)

    for error in (put_error.value, check_error.value):
        assert key_id in str(error)
        assert wrong_secret not in str(error)
        assert wrong_secret not in str(error.__cause__)


# --- an S3-compatible endpoint without checksum support


_HOP_BY_HOP = frozenset(
    {"connection", "content-length", "expect", "keep-alive", "transfer-encoding"}
)


class _NoChecksumProxy(BaseHTTPRequestHandler):
    """Forwards to moto, but answers 501 NotImplemented to any request with checksum headers,
    as some S3-compatible servers do."""

    protocol_version = "HTTP/1.1"  # so boto3's "Expect: 100-continue" is answered at once
    upstream: tuple[str, int]
    refused: list[str]

    def _forward(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if any(name.lower().startswith("x-amz-checksum-") for name in self.headers):
            self.refused.append(self.path)
            error = (
                b"<?xml version='1.0' encoding='UTF-8'?><Error><Code>NotImplemented</Code>"
                b"<Message>A header you provided implies functionality that is not "
                b"implemented</Message></Error>"
            )
            self._answer(501, {"Content-Type": "application/xml"}, error)
            return
        upstream = http.client.HTTPConnection(*self.upstream, timeout=10)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            upstream.request(self.command, self.path, body=body, headers=headers)
            response = upstream.getresponse()
            self._answer(response.status, dict(response.getheaders()), response.read())
        finally:
            upstream.close()

    def _answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            if name.lower() not in _HOP_BY_HOP:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_PUT = do_HEAD = do_DELETE = do_POST = _forward

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass


@pytest.fixture
def no_checksum_endpoint(s3_endpoint: S3Endpoint) -> Iterator[tuple[str, list[str]]]:
    """An endpoint URL in front of moto that refuses checksum headers, and the paths it refused."""
    upstream = urlsplit(s3_endpoint.url)
    refused: list[str] = []
    handler = type(
        "Handler",
        (_NoChecksumProxy,),
        {"upstream": (upstream.hostname, upstream.port), "refused": refused},
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", refused
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_r5_endpoint_without_checksums_gets_the_invoice_with_its_sha256_metadata(
    s3_endpoint: S3Endpoint, no_checksum_endpoint: tuple[str, list[str]], object_key: str
) -> None:
    """R5: ChecksumSHA256 is sent only where the endpoint supports it; a NotImplemented answer
    makes the store upload without checksums, still recording the SHA-256 as metadata."""
    url, refused = no_checksum_endpoint
    store = s3_endpoint.storage(endpoint_url=url)

    store.put(object_key, INVOICE, PDF)
    store.put(object_key, INVOICE, PDF)  # the store remembers: no second refusal

    assert len(refused) == 1
    assert not store.checksum_sha256
    assert store.stored_sha256(object_key) == sha256_hex(INVOICE)
    assert store.get(object_key) == INVOICE


def test_r5_checksums_can_be_switched_off_for_such_endpoints(
    s3_endpoint: S3Endpoint, no_checksum_endpoint: tuple[str, list[str]], object_key: str
) -> None:
    """R5: with checksum_sha256=False no checksum header is ever sent (not even boto3's CRC32)."""
    url, refused = no_checksum_endpoint
    store = s3_endpoint.storage(endpoint_url=url, checksum_sha256=False)

    store.put(object_key, INVOICE, PDF)

    assert refused == []
    assert store.stored_sha256(object_key) == sha256_hex(INVOICE)
