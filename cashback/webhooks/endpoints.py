"""A reseller's webhook endpoints (issue 17): registered with a checked URL (no SSRF) and the
event types chosen, the signing secret shown once and stored sealed; rotated with an overlap
(both secrets sign until it ends); enabled again after being disabled; deleted. The delivery
log, and an event sent again on request with its `webhook-id` unchanged."""

from __future__ import annotations

import secrets
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from cashback.db.session import Database
from cashback.db.tables import (
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEndpoint,
    WebhookEvent,
)
from cashback.db.webhooks import WebhookDeliveries
from cashback.domain.webhooks import WebhookEventType
from cashback.webhooks.sealing import SecretBox, new_secret
from cashback.webhooks.sender import Resolver, check_endpoint

MAX_ENDPOINTS = 10
MAX_OVERLAP = timedelta(days=7)


class EndpointNotFound(LookupError):
    """No such endpoint of this reseller (another reseller's is not found either)."""


class TooManyEndpoints(Exception):
    pass


class EndpointDisabled(Exception):
    """Redelivery to a disabled endpoint: enable it first."""


@dataclass(frozen=True)
class Created:
    endpoint: WebhookEndpoint
    secret: str


@dataclass(frozen=True)
class Rotated:
    secret: str
    previous_secret_expires_at: datetime | None


class WebhookEndpoints:
    def __init__(
        self,
        database: Database,
        box: SecretBox,
        *,
        allow_loopback: bool,
        resolve: Resolver = socket.getaddrinfo,
    ) -> None:
        self._database = database
        self._box = box
        self._allow_loopback = allow_loopback
        self._resolve = resolve

    def check(self, url: str) -> None:
        """No SSRF: raises `AddressRefused` saying why the URL is refused."""
        check_endpoint(url, allow_loopback=self._allow_loopback, resolve=self._resolve)

    def create(
        self,
        reseller_id: str,
        url: str,
        event_types: Sequence[WebhookEventType],
        description: str = "",
    ) -> Created:
        self.check(url)
        endpoint_id = f"we_{secrets.token_urlsafe(12)}"
        secret = new_secret()
        sealed = self._box.seal(endpoint_id, secret)
        with self._database.transaction() as session:
            count = len(
                session.scalars(
                    select(WebhookEndpoint.id).where(
                        WebhookEndpoint.reseller_id == reseller_id,
                        WebhookEndpoint.deleted_at.is_(None),
                    )
                ).all()
            )
            if count >= MAX_ENDPOINTS:
                raise TooManyEndpoints(f"an organisation has at most {MAX_ENDPOINTS} endpoints")
            endpoint = WebhookEndpoint(
                id=endpoint_id,
                reseller_id=reseller_id,
                url=url,
                event_types=sorted({kind.value for kind in event_types}),
                description=description,
                key_id=sealed.key_id,
                secret_nonce=sealed.nonce,
                secret_ciphertext=sealed.ciphertext,
                enabled=True,
                disabled_reason="",
                created_at=datetime.now(UTC),
            )
            session.add(endpoint)
            session.flush()
            session.expunge(endpoint)
        return Created(endpoint, secret)

    def of_reseller(self, reseller_id: str) -> list[WebhookEndpoint]:
        with self._database.reading() as session:
            rows = list(
                session.scalars(
                    select(WebhookEndpoint)
                    .where(
                        WebhookEndpoint.reseller_id == reseller_id,
                        WebhookEndpoint.deleted_at.is_(None),
                    )
                    .order_by(WebhookEndpoint.created_at)
                )
            )
            session.expunge_all()
            return rows

    def get(self, reseller_id: str, endpoint_id: str) -> WebhookEndpoint:
        with self._database.reading() as session:
            endpoint = self._owned(session, reseller_id, endpoint_id)
            session.expunge(endpoint)
            return endpoint

    def rotate(self, reseller_id: str, endpoint_id: str, overlap: timedelta) -> Rotated:
        """A new secret; the current one keeps signing (beside it) for `overlap`."""
        overlap = min(max(overlap, timedelta(0)), MAX_OVERLAP)
        secret = new_secret()
        sealed = self._box.seal(endpoint_id, secret)
        now = datetime.now(UTC)
        with self._database.transaction() as session:
            endpoint = self._owned(session, reseller_id, endpoint_id)
            if overlap > timedelta(0):
                endpoint.previous_key_id = endpoint.key_id
                endpoint.previous_secret_nonce = endpoint.secret_nonce
                endpoint.previous_secret_ciphertext = endpoint.secret_ciphertext
                endpoint.previous_secret_expires_at = now + overlap
            else:
                endpoint.previous_key_id = None
                endpoint.previous_secret_nonce = None
                endpoint.previous_secret_ciphertext = None
                endpoint.previous_secret_expires_at = None
            endpoint.key_id = sealed.key_id
            endpoint.secret_nonce = sealed.nonce
            endpoint.secret_ciphertext = sealed.ciphertext
            expires = endpoint.previous_secret_expires_at
        return Rotated(secret, expires)

    def enable(self, reseller_id: str, endpoint_id: str) -> WebhookEndpoint:
        """After the endpoint was disabled: its URL is checked again; new events go to it
        (the ones it missed can be sent again from the delivery log)."""
        with self._database.reading() as session:
            url = self._owned(session, reseller_id, endpoint_id).url
        self.check(url)
        with self._database.transaction() as session:
            endpoint = self._owned(session, reseller_id, endpoint_id)
            endpoint.enabled = True
            endpoint.disabled_at = None
            endpoint.disabled_reason = ""
            session.flush()
            session.expunge(endpoint)
            return endpoint

    def delete(self, reseller_id: str, endpoint_id: str) -> None:
        with self._database.transaction() as session:
            endpoint = self._owned(session, reseller_id, endpoint_id)
            endpoint.enabled = False
            endpoint.deleted_at = datetime.now(UTC)

    def deliveries(
        self, reseller_id: str, endpoint_id: str, limit: int = 100
    ) -> list[tuple[WebhookDelivery, WebhookEvent]]:
        with self._database.reading() as session:
            self._owned(session, reseller_id, endpoint_id)
            rows = WebhookDeliveries(session).of_endpoint(endpoint_id, limit)
            session.expunge_all()
            return rows

    def redeliver(self, reseller_id: str, endpoint_id: str, delivery_id: str) -> WebhookDelivery:
        """The same event again (same `webhook-id`), in the claim's order among its events
        still pending for the endpoint; the relay starts or nudges the endpoint's delivery
        workflow for the claim. A disabled endpoint is enabled first."""
        with self._database.transaction() as session:
            if not self._owned(session, reseller_id, endpoint_id).enabled:
                raise EndpointDisabled(f"webhook endpoint {endpoint_id} is disabled")
            delivery = session.get(WebhookDelivery, delivery_id)
            if delivery is None or delivery.endpoint_id != endpoint_id:
                raise EndpointNotFound(f"delivery {delivery_id}")
            delivery.status = WebhookDeliveryStatus.PENDING
            delivery.scheduled = False
            delivery.delivered_at = None
            session.flush()
            session.expunge(delivery)
            return delivery

    def _owned(self, session: Session, reseller_id: str, endpoint_id: str) -> WebhookEndpoint:
        endpoint = session.get(WebhookEndpoint, endpoint_id)
        if endpoint is None or endpoint.reseller_id != reseller_id or endpoint.deleted_at:
            raise EndpointNotFound(f"webhook endpoint {endpoint_id}")
        return endpoint
