"""No SSRF through webhooks (issue 17). Endpoints on 127.0.0.1, 10.0.0.1, 169.254.169.254,
[::1], a name that resolves to loopback, a name that resolves to a public address at
registration and to loopback at delivery (DNS rebinding), and a redirect to loopback are all
refused, at registration and at delivery, by the address check before any connection: a spy
network backend records every connection attempt and must record none. The tests never send
traffic beyond loopback (a public address is only ever resolved, by a fake resolver, never
connected to)."""

from __future__ import annotations

import socket
from collections.abc import Iterable, Sequence
from typing import Any

import httpcore
import pytest

from cashback.domain.webhooks import AddressRefused, WebhookEventType
from cashback.webhooks.sender import check_endpoint, send
from tests.api.harness import Api
from tests.webhooks.receiver import Receiver

PUBLIC = "93.184.216.34"  # resolved by the fake resolver only; never connected to

REFUSED_URLS = {
    "loopback": "https://127.0.0.1/hooks",
    "private": "https://10.0.0.1/hooks",
    "cloud metadata (link-local)": "https://169.254.169.254/latest/meta-data/",
    "IPv6 loopback": "https://[::1]/hooks",
    "IPv4 loopback mapped into IPv6": "https://[::ffff:127.0.0.1]/hooks",
    "a name resolving to loopback": "https://localhost/hooks",
    "a name resolving to loopback (fake DNS)": "https://rebound.example/hooks",
    "a name resolving to a public and a private address": "https://split.example/hooks",
    "plain http to a public address": f"http://{PUBLIC}/hooks",
}


def fake_resolver(answers: dict[str, list[str]]) -> Any:
    """getaddrinfo that answers names from `answers` (in turn for a list of lists), and asks
    the system for literal addresses and `localhost` only (no traffic)."""
    calls: dict[str, int] = {}

    def resolve(host: str, port: int, *args: Any, **kwargs: Any) -> Sequence[tuple[Any, ...]]:
        if host in answers:
            calls[host] = calls.get(host, 0) + 1
            family = socket.AF_INET
            return [
                (family, socket.SOCK_STREAM, 6, "", (address, port)) for address in answers[host]
            ]
        return socket.getaddrinfo(host, port, *args, **kwargs)

    return resolve


DNS = {"rebound.example": ["127.0.0.1"], "split.example": [PUBLIC, "10.1.2.3"]}


class SpyBackend(httpcore.NetworkBackend):
    """Records every connection attempt; connects nowhere."""

    def __init__(self) -> None:
        self.attempts: list[tuple[str, int]] = []

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        self.attempts.append((host, port))
        raise httpcore.ConnectError("the spy connects nowhere")


@pytest.mark.parametrize("url", REFUSED_URLS.values(), ids=REFUSED_URLS.keys())
def test_refused_at_registration_by_the_address_check(url: str) -> None:
    """Issue 17: production's check refuses the endpoint, saying why."""
    with pytest.raises(AddressRefused):
        check_endpoint(url, allow_loopback=False, resolve=fake_resolver(DNS))


@pytest.mark.parametrize("url", REFUSED_URLS.values(), ids=REFUSED_URLS.keys())
def test_refused_at_delivery_before_any_connection(url: str) -> None:
    """Issue 17: at delivery the same endpoints are refused, and no connection is attempted."""
    spy = SpyBackend()
    attempt = send(
        url,
        {"webhook-id": "msg_test"},
        "{}",
        allow_loopback=False,
        inner=spy,
        resolve=fake_resolver(DNS),
    )
    assert not attempt.delivered
    assert attempt.error.startswith("refused: ")
    assert spy.attempts == []


def test_dns_rebinding_passes_registration_and_is_refused_at_delivery() -> None:
    """Issue 17: a name that resolved to a public address when registered and resolves to
    loopback when an event goes out is refused at the connection, before connecting."""
    answers = {"rebind.example": [PUBLIC]}
    resolve = fake_resolver(answers)
    url = "https://rebind.example/hooks"
    check_endpoint(url, allow_loopback=False, resolve=resolve)  # public now: accepted
    answers["rebind.example"] = ["127.0.0.1"]
    spy = SpyBackend()
    attempt = send(url, {}, "{}", allow_loopback=False, inner=spy, resolve=resolve)
    assert not attempt.delivered
    assert "loopback" in attempt.error
    assert spy.attempts == []
    # and an address that passes is the one connected to (the checked one, not a new lookup)
    answers["rebind.example"] = [PUBLIC]
    attempt = send(url, {}, "{}", allow_loopback=False, inner=spy, resolve=resolve)
    assert spy.attempts == [(PUBLIC, 443)]
    assert not attempt.delivered  # the spy connects nowhere


def test_development_allows_loopback_only_through_its_setting() -> None:
    """Issue 17: `webhook_allow_loopback` lets loopback through (plain http too, to loopback
    only); private and link-local addresses stay refused."""
    check_endpoint("http://127.0.0.1:8080/hooks", allow_loopback=True)
    check_endpoint("https://[::1]/hooks", allow_loopback=True)
    for url in ("https://10.0.0.1/", "https://169.254.169.254/", f"http://{PUBLIC}/"):
        with pytest.raises(AddressRefused):
            check_endpoint(url, allow_loopback=True)


def test_a_redirect_to_loopback_is_not_followed() -> None:
    """Issue 17: an endpoint answering 307 to another address (here a second loopback
    receiver) is a failed attempt: the redirect is not followed, the target gets nothing."""
    target = Receiver()
    target.up()
    redirecting = Receiver(status=307, location=target.url)
    redirecting.up()
    try:
        attempt = send(redirecting.url, {"webhook-id": "msg_1"}, "{}", allow_loopback=True)
    finally:
        redirecting.down()
        target.down()
    assert not attempt.delivered
    assert attempt.status_code == 307
    assert "redirects are not followed" in attempt.error
    assert len(redirecting.received) == 1
    assert target.received == []


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """As in production: no loopback endpoints."""
    return {}


async def test_the_api_refuses_such_endpoints_with_a_clear_error(api: Api) -> None:
    """Issue 17: registration answers 422 `endpoint_refused`, naming the reason, for each
    refused endpoint, and stores nothing; an unknown event type is a 422 too."""
    reseller = await api.register()
    for url in (
        "https://127.0.0.1/hooks",
        "https://10.0.0.1/hooks",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]/hooks",
        "https://localhost/hooks",
        "http://127.0.0.1:9/hooks",
    ):
        refused = await api.http.post(
            "/webhooks/endpoints", json={"url": url}, headers=reseller.headers
        )
        assert refused.status_code == 422, (url, refused.text)
        assert refused.json()["error"] == "endpoint_refused"
    unknown = await api.http.post(
        "/webhooks/endpoints",
        json={"url": "https://127.0.0.1/", "event_types": ["claim.exploded"]},
        headers=reseller.headers,
    )
    assert unknown.status_code == 422
    listed = await api.http.get("/webhooks/endpoints", headers=reseller.headers)
    assert listed.json() == {"endpoints": []}
    assert {kind.value for kind in WebhookEventType} >= {"claim.submitted", "claim.paid"}
