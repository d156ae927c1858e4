"""Invoices in an S3 bucket, on AWS or any S3-compatible server such as MinIO (R5)."""

from __future__ import annotations

import base64
import logging
import threading
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal, NoReturn

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from cashback.invoices.storage import (
    InvoiceNotFoundError,
    InvoiceStorageError,
    StoredInvoice,
    check_content_type,
    check_invoice_bytes,
    check_object_key,
    check_url_lifetime,
    sha256_hex,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import HeadObjectOutputTypeDef, PutObjectRequestTypeDef

log = logging.getLogger(__name__)

SHA256_METADATA = "sha256"  # sent as the header x-amz-meta-sha256
_NOT_FOUND = frozenset({"404", "NoSuchKey", "NotFound"})
_UNKNOWN_KEY_ID = frozenset({"InvalidAccessKeyId"})
_WRONG_SECRET = frozenset({"SignatureDoesNotMatch"})
_BAD_TOKEN = frozenset({"ExpiredToken", "InvalidToken", "TokenRefreshRequired"})
_DENIED = frozenset({"403", "AccessDenied", "AllAccessDisabled"})


class S3InvoiceStorage:
    """An `InvoiceStorage` backed by one S3 bucket, reached through `endpoint_url`.

    Each invoice is uploaded with server-side encryption (SSE-S3, AES256) and its content type;
    its SHA-256 is kept as object metadata (`x-amz-meta-sha256`) and, where the endpoint
    supports it, also sent as `ChecksumSHA256` so the server verifies the bytes it received.

    `endpoint_url=None` means AWS S3 itself; for MinIO give its URL, e.g.
    `http://127.0.0.1:9000`. Path-style addressing (`host/bucket/key`) is used with a custom
    endpoint unless `path_style=False`. Without `access_key_id` and `secret_access_key`, boto3's
    default credential chain applies (environment, instance role). `checksum_sha256=False` is for
    endpoints that reject checksum headers; an endpoint answering `NotImplemented` to them is
    also detected, and from then on this store uploads without checksums.
    The store is thread-safe (boto3 clients are), for sync activities on a thread pool."""

    def __init__(
        self,
        *,
        bucket: str,
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        session_token: str | None = None,
        path_style: bool | None = None,
        checksum_sha256: bool = True,
        connect_timeout: float = 5.0,
        read_timeout: float = 60.0,
    ) -> None:
        if not bucket:
            raise ValueError("an S3 bucket name is required")
        if (access_key_id is None) != (secret_access_key is None):
            raise ValueError("give both an S3 access key id and a secret access key, or neither")
        self._bucket = bucket
        self._endpoint = endpoint_url or f"AWS S3 ({region})"
        self._access_key_id = access_key_id
        self._session = boto3.session.Session(
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            aws_session_token=session_token,
            region_name=region,
        )
        self._client_args: dict[str, Any] = {
            "endpoint_url": endpoint_url,
            "region": region,
            "addressing_style": _addressing_style(path_style, endpoint_url),
            "connect_timeout": connect_timeout,
            "read_timeout": read_timeout,
        }
        self._lock = threading.Lock()
        self._checksum_sha256 = checksum_sha256
        self._client = self._new_client(checksum_sha256)

    @property
    def bucket(self) -> str:
        return self._bucket

    @property
    def checksum_sha256(self) -> bool:
        """Whether uploads carry `ChecksumSHA256` (False once the endpoint refused it)."""
        return self._checksum_sha256

    def put(
        self, object_key: str, data: bytes, content_type: str, *, sha256: str | None = None
    ) -> StoredInvoice:
        check_object_key(object_key)
        check_invoice_bytes(data)
        stored = StoredInvoice(
            object_key=object_key,
            sha256=sha256 or sha256_hex(data),
            content_type=check_content_type(content_type),
            size_bytes=len(data),
        )
        try:
            self._upload(stored, data, checksum=self._checksum_sha256)
        except ClientError as exc:
            if not (self._checksum_sha256 and _refuses_checksums(exc)):
                self._fail(exc, f"store invoice {object_key!r}")
            log.warning(
                "S3 at %s does not support ChecksumSHA256 (%s); uploading without it",
                self._endpoint,
                _code(exc),
            )
            self._stop_sending_checksums()
            try:
                self._upload(stored, data, checksum=False)
            except (ClientError, BotoCoreError) as retry_exc:
                self._fail(retry_exc, f"store invoice {object_key!r}")
        except BotoCoreError as exc:
            self._fail(exc, f"store invoice {object_key!r}")
        return stored

    def stored_sha256(self, object_key: str) -> str | None:
        head = self._head(object_key)
        if head is None:
            return None
        sha256 = head.get("Metadata", {}).get(SHA256_METADATA)
        if sha256 is None:
            log.warning("S3 object %r carries no %s metadata", object_key, SHA256_METADATA)
        return sha256

    def get(self, object_key: str) -> bytes:
        check_object_key(object_key)
        try:
            response = self._client.get_object(Bucket=self._bucket, Key=object_key)
            data = response["Body"].read()
        except ClientError as exc:
            if _code(exc) in _NOT_FOUND:
                raise InvoiceNotFoundError(
                    f"no invoice is stored under {object_key!r} in bucket {self._bucket!r}"
                ) from exc
            self._fail(exc, f"read invoice {object_key!r}")
        except BotoCoreError as exc:
            self._fail(exc, f"read invoice {object_key!r}")
        recorded = response.get("Metadata", {}).get(SHA256_METADATA)
        if recorded is not None and sha256_hex(data) != recorded:
            raise InvoiceStorageError(
                f"invoice {object_key!r} in bucket {self._bucket!r} no longer matches its "
                "recorded SHA-256"
            )
        return data

    def delete(self, object_key: str) -> None:
        check_object_key(object_key)
        try:
            self._client.delete_object(Bucket=self._bucket, Key=object_key)
        except (ClientError, BotoCoreError) as exc:
            self._fail(exc, f"delete invoice {object_key!r}")

    def download_url(self, object_key: str, expires: timedelta) -> str:
        """A presigned GET URL; anyone holding it can download the invoice until it expires."""
        seconds = check_url_lifetime(expires)
        if self._head(object_key) is None:
            raise InvoiceNotFoundError(
                f"no invoice is stored under {object_key!r} in bucket {self._bucket!r}"
            )
        return self._client.generate_presigned_url(
            "get_object",
            Params={"Bucket": self._bucket, "Key": object_key},
            ExpiresIn=seconds,
        )

    def _upload(self, stored: StoredInvoice, data: bytes, *, checksum: bool) -> None:
        request: PutObjectRequestTypeDef = {
            "Bucket": self._bucket,
            "Key": stored.object_key,
            "Body": data,
            "ContentType": stored.content_type,
            "ServerSideEncryption": "AES256",
            "Metadata": {SHA256_METADATA: stored.sha256},
        }
        if checksum:  # both headers: AWS needs only the value, some S3-compatibles the name
            request["ChecksumAlgorithm"] = "SHA256"
            request["ChecksumSHA256"] = base64.b64encode(bytes.fromhex(stored.sha256)).decode()
        self._client.put_object(**request)

    def _head(self, object_key: str) -> HeadObjectOutputTypeDef | None:
        """The object's headers, or None when the bucket holds no such key."""
        check_object_key(object_key)
        try:
            return self._client.head_object(Bucket=self._bucket, Key=object_key)
        except ClientError as exc:
            # A HEAD has no body, so its errors carry no code: ask again where the answer can.
            if _code(exc) in _NOT_FOUND:  # a missing key, or a missing bucket
                self._check_bucket()
                return None
            if _code(exc) in _DENIED:  # an unknown key id, a wrong secret, or a policy
                self._explain_refusal(object_key)
            self._fail(exc, f"look up invoice {object_key!r}")
        except BotoCoreError as exc:
            self._fail(exc, f"look up invoice {object_key!r}")

    def _explain_refusal(self, object_key: str) -> None:
        """Raise the reason S3 gives when asked for one byte of the object, if it refuses."""
        try:
            self._client.get_object(Bucket=self._bucket, Key=object_key, Range="bytes=0-0")
        except ClientError as exc:
            if _code(exc) not in _NOT_FOUND:
                self._fail(exc, f"look up invoice {object_key!r}")
        except BotoCoreError as exc:
            self._fail(exc, f"look up invoice {object_key!r}")

    def _check_bucket(self) -> None:
        try:
            self._client.head_bucket(Bucket=self._bucket)
        except ClientError as exc:
            if _code(exc) in _NOT_FOUND:
                self._fail_missing_bucket(exc)
            self._fail(exc, "look up the bucket")
        except BotoCoreError as exc:
            self._fail(exc, "look up the bucket")

    def _fail(self, exc: ClientError | BotoCoreError, action: str) -> NoReturn:
        """Raise an `InvoiceStorageError` that says what went wrong and what to fix."""
        where = f"S3 at {self._endpoint}"
        key_id = f" {self._access_key_id!r}" if self._access_key_id else ""
        if isinstance(exc, NoCredentialsError):
            message = (
                f"cannot {action}: no S3 credentials are configured "
                "(give an access key id and a secret access key)"
            )
        elif isinstance(exc, BotoCoreError):
            message = f"cannot {action} in bucket {self._bucket!r}: {exc}"
        else:
            code = _code(exc)
            if code == "NoSuchBucket":
                self._fail_missing_bucket(exc)
            if code in _UNKNOWN_KEY_ID:
                message = (
                    f"{where} does not know the access key id{key_id}: check the configured "
                    f"access key id (while trying to {action})"
                )
            elif code in _WRONG_SECRET:
                message = (
                    f"{where} rejected the request signature for access key id{key_id}: the "
                    f"configured secret access key is wrong (while trying to {action})"
                )
            elif code in _BAD_TOKEN:
                message = (
                    f"{where} refused the session token ({code}): renew the S3 credentials "
                    f"(while trying to {action})"
                )
            elif code in _DENIED:
                message = (
                    f"{where} denied access to bucket {self._bucket!r} for access key id"
                    f"{key_id or ' (default credentials)'}: check the credentials and the "
                    f"bucket's policy (while trying to {action})"
                )
            else:
                detail = exc.response.get("Error", {}).get("Message", "")
                message = f"{where} could not {action} in bucket {self._bucket!r}: {code} {detail}"
        raise InvoiceStorageError(message.strip()) from exc

    def _fail_missing_bucket(self, exc: Exception) -> NoReturn:
        raise InvoiceStorageError(
            f"S3 bucket {self._bucket!r} does not exist at {self._endpoint}: create it or "
            "correct the configured bucket name"
        ) from exc

    def _stop_sending_checksums(self) -> None:
        with self._lock:
            if self._checksum_sha256:
                self._client = self._new_client(checksum=False)
                self._checksum_sha256 = False

    def _new_client(self, checksum: bool) -> S3Client:
        args = self._client_args
        # boto3 adds CRC32 checksums by default; endpoints that reject ours reject those too.
        when: Literal["when_supported", "when_required"] = (
            "when_supported" if checksum else "when_required"
        )
        config = Config(
            region_name=args["region"],
            signature_version="s3v4",
            s3={"addressing_style": args["addressing_style"]},
            connect_timeout=args["connect_timeout"],
            read_timeout=args["read_timeout"],
            retries={"mode": "standard", "max_attempts": 3},
            request_checksum_calculation=when,
            response_checksum_validation=when,
        )
        return self._session.client("s3", endpoint_url=args["endpoint_url"], config=config)


def _addressing_style(
    path_style: bool | None, endpoint_url: str | None
) -> Literal["path", "virtual", "auto"]:
    if path_style is None:
        return "path" if endpoint_url else "auto"
    return "path" if path_style else "virtual"


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _refuses_checksums(exc: ClientError) -> bool:
    """Whether the endpoint refused the upload because it does not implement checksums."""
    code = _code(exc)
    message = str(exc.response.get("Error", {}).get("Message", "")).lower()
    if code == "NotImplemented":
        return "encryption" not in message  # an SSE refusal must not be mistaken for this
    return code in ("InvalidArgument", "InvalidRequest") and "checksum" in message
