"""Short-lived signed links to invoices in the local store (R5): the API serves the invoice at
`/invoices/{key}?expires=...&signature=...` to whoever holds an unexpired link, as S3 does for
a presigned URL. The signature is an HMAC-SHA256 over the expiry and the object key, with a key
derived from the program's payload key (so no new secret to configure)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, urlencode

from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from cashback.invoices.storage import check_object_key, check_url_lifetime

PATH = "/invoices"
_PURPOSE = b"cashback invoice links v1"  # a key of its own, never the payload key itself


class InvalidInvoiceLink(Exception):
    """The link's signature does not match its key and expiry (altered or forged)."""


class ExpiredInvoiceLink(Exception):
    """The link was genuine, but its time is up."""


def link_key(secret: bytes) -> bytes:
    """The HMAC key of invoice links, derived from `secret` (HKDF-SHA256)."""
    return HKDF(algorithm=SHA256(), length=32, salt=None, info=_PURPOSE).derive(secret)


def _now() -> datetime:
    return datetime.now(UTC)


class InvoiceLinks:
    """Signs and checks links to invoices under `base_url` (the API's public address)."""

    def __init__(self, base_url: str, key: bytes, clock: Callable[[], datetime] = _now) -> None:
        self._base_url = base_url.rstrip("/")
        self._key = key
        self._clock = clock

    def _signature(self, object_key: str, expires: int) -> str:
        message = f"{expires}\n{object_key}".encode("utf-8", "surrogatepass")
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def url(self, object_key: str, lifetime: timedelta) -> str:
        """A link to the invoice, valid for `lifetime` (one second to seven days)."""
        check_object_key(object_key)
        expires = int(self._clock().timestamp()) + check_url_lifetime(lifetime)
        query = urlencode({"expires": expires, "signature": self._signature(object_key, expires)})
        return f"{self._base_url}{PATH}/{quote(object_key)}?{query}"

    def check(self, object_key: str, expires: int, signature: str) -> None:
        """Raises `InvalidInvoiceLink` for a link not signed so, `ExpiredInvoiceLink` after
        its expiry."""
        expected = self._signature(object_key, expires).encode()
        # Bytes, so that any text in the query is compared (str must be ASCII there).
        if not hmac.compare_digest(expected, signature.encode("utf-8", "replace")):
            raise InvalidInvoiceLink("this invoice link is not valid: it was altered")
        if expires <= self._clock().timestamp():
            raise ExpiredInvoiceLink("this invoice link has expired: ask for a new one")
