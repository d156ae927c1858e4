"""Sending one signed webhook, with no SSRF (issue 17).

Every connection goes through `GuardedBackend`: the host is resolved, *every* address it
resolves to is checked (`cashback.domain.webhooks.check_address`: no private, loopback,
link-local, reserved addresses; loopback only with the development setting) and the connection
is made to the checked address, so a name that resolves elsewhere a moment later (DNS
rebinding) is never connected to. TLS still verifies the certificate of the name. Redirects
are not followed (a 3xx is a failed attempt), proxies from the environment are not used,
time-outs apply and at most `MAX_RESPONSE_BYTES` of an answer are read.
"""

from __future__ import annotations

import functools
import socket
import ssl
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import certifi
import httpcore
import httpx
from standardwebhooks.webhooks import Webhook

from cashback.domain.webhooks import (
    AddressRefused,
    check_address,
    check_plain_http_address,
    check_url,
)

CONNECT_TIMEOUT_SECONDS = 5.0
TIMEOUT_SECONDS = 10.0
MAX_RESPONSE_BYTES = 64 * 1024
USER_AGENT = "Cashback-Webhooks/1"

Resolver = Callable[..., Sequence[tuple[Any, ...]]]


def resolve_checked(
    host: str,
    port: int,
    *,
    allow_loopback: bool,
    loopback_only: bool = False,
    resolve: Resolver = socket.getaddrinfo,
) -> list[str]:
    """The host's addresses, each checked; refused (`AddressRefused`) if any is not allowed."""
    try:
        infos = resolve(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise AddressRefused(f"{host} does not resolve: {error}") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise AddressRefused(f"{host} resolves to no address")
    for address in addresses:
        check_address(address, allow_loopback=allow_loopback)
        if loopback_only:
            check_plain_http_address(address)
    return addresses


def check_endpoint(
    url: str, *, allow_loopback: bool, resolve: Resolver = socket.getaddrinfo
) -> None:
    """At registration and before every delivery: the URL's form and its host's addresses."""
    host, port = check_url(url, allow_loopback=allow_loopback)
    resolve_checked(
        host,
        port,
        allow_loopback=allow_loopback,
        loopback_only=url.lower().startswith("http:"),
        resolve=resolve,
    )


class GuardedBackend(httpcore.NetworkBackend):
    """httpcore's network backend that connects only to checked addresses."""

    def __init__(
        self,
        *,
        allow_loopback: bool,
        loopback_only: bool,
        inner: httpcore.NetworkBackend | None = None,
        resolve: Resolver = socket.getaddrinfo,
    ) -> None:
        self._allow_loopback = allow_loopback
        self._loopback_only = loopback_only
        self._inner = inner or httpcore.SyncBackend()
        self._resolve = resolve

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = resolve_checked(
            host,
            port,
            allow_loopback=self._allow_loopback,
            loopback_only=self._loopback_only,
            resolve=self._resolve,
        )
        return self._inner.connect_tcp(addresses[0], port, timeout, local_address, socket_options)

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        raise AddressRefused("webhooks are not sent to Unix sockets")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


@functools.cache
def _tls() -> ssl.SSLContext:
    """The certificate authorities (certifi's), loaded once per process."""
    return ssl.create_default_context(cafile=certifi.where())


class GuardedTransport(httpx.HTTPTransport):
    """httpx's transport over `GuardedBackend`, with no proxies and no retries of its own."""

    def __init__(self, backend: GuardedBackend) -> None:
        super().__init__(trust_env=False)
        self._pool = httpcore.ConnectionPool(
            ssl_context=_tls(),
            max_connections=1,
            network_backend=backend,
        )


@dataclass(frozen=True)
class Attempt:
    """How one attempt went: delivered (2xx), or why not (for the delivery log)."""

    delivered: bool
    status_code: int | None
    error: str


def signature_headers(
    message_id: str, at: datetime, body: str, secrets: Sequence[str]
) -> dict[str, str]:
    """Standard Webhooks' headers; with two secrets (a rotation's overlap) both sign."""
    signatures = [Webhook(secret).sign(message_id, at, body) for secret in secrets]
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": " ".join(signatures),
    }


def send(
    url: str,
    headers: dict[str, str],
    body: str,
    *,
    allow_loopback: bool,
    inner: httpcore.NetworkBackend | None = None,
    resolve: Resolver = socket.getaddrinfo,
) -> Attempt:
    """POST the signed body to the endpoint, checked first and at connection (no SSRF)."""
    try:
        check_url(url, allow_loopback=allow_loopback)
    except AddressRefused as refused:
        return Attempt(False, None, f"refused: {refused}")
    backend = GuardedBackend(
        allow_loopback=allow_loopback,
        loopback_only=url.lower().startswith("http:"),
        inner=inner,
        resolve=resolve,
    )
    timeout = httpx.Timeout(TIMEOUT_SECONDS, connect=CONNECT_TIMEOUT_SECONDS)
    try:
        with (
            httpx.Client(
                transport=GuardedTransport(backend), follow_redirects=False, timeout=timeout
            ) as client,
            client.stream(
                "POST",
                url,
                content=body.encode(),
                headers={
                    **headers,
                    "content-type": "application/json",
                    "user-agent": USER_AGENT,
                },
            ) as response,
        ):
            read = 0
            for chunk in response.iter_raw():
                read += len(chunk)
                if read > MAX_RESPONSE_BYTES:
                    break  # the rest is not read: only the status counts
            status = response.status_code
    except AddressRefused as refused:
        return Attempt(False, None, f"refused: {refused}")
    except httpx.HTTPError as error:
        return Attempt(False, None, f"{type(error).__name__}: {error}"[:500])
    if 200 <= status < 300:
        return Attempt(True, status, "")
    if 300 <= status < 400:
        return Attempt(False, status, f"answered {status}: redirects are not followed")
    return Attempt(False, status, f"answered {status}")
