"""`activities.webhooks.WebhookStore` on the database: one attempt at a delivery, signed with
the endpoint's secret (and, during a rotation's overlap, its previous one), logged per
endpoint; giving up disables the endpoint and tells the reseller and the operators."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Callable
from datetime import UTC, datetime

import httpcore
from sqlalchemy import update

from cashback.db.session import Database
from cashback.db.tables import (
    Reseller,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEndpoint,
    WebhookEvent,
)
from cashback.db.webhooks import WebhookDeliveries
from cashback.domain.reseller import Language
from cashback.mail.accounts import AccountMail
from cashback.webhooks.sealing import Sealed, SecretBox
from cashback.webhooks.sender import Resolver, send, signature_headers

log = logging.getLogger(__name__)

# (to, kind, language, facts): AccountMailer.send
Mail = Callable[..., None]


def body_of(event: WebhookEvent) -> str:
    """The event's body as sent and signed: compact JSON of the stored payload."""
    return json.dumps(event.payload, separators=(",", ":"), ensure_ascii=False)


def signing_secrets(endpoint: WebhookEndpoint, box: SecretBox, now: datetime) -> list[str]:
    """The current secret, and the previous one while the rotation's overlap lasts."""
    found = [
        box.open(
            endpoint.id,
            Sealed(endpoint.key_id, endpoint.secret_nonce, endpoint.secret_ciphertext),
        )
    ]
    if (
        endpoint.previous_key_id is not None
        and endpoint.previous_secret_nonce is not None
        and endpoint.previous_secret_ciphertext is not None
        and endpoint.previous_secret_expires_at is not None
        and endpoint.previous_secret_expires_at > now
    ):
        found.append(
            box.open(
                endpoint.id,
                Sealed(
                    endpoint.previous_key_id,
                    endpoint.previous_secret_nonce,
                    endpoint.previous_secret_ciphertext,
                ),
            )
        )
    return found


class SqlWebhookStore:
    def __init__(
        self,
        database: Database,
        box: SecretBox,
        *,
        allow_loopback: bool,
        mail: Mail,
        operators_address: str,
        inner: httpcore.NetworkBackend | None = None,
        resolve: Resolver = socket.getaddrinfo,
    ) -> None:
        self._database = database
        self._box = box
        self._allow_loopback = allow_loopback
        self._mail = mail
        self._operators_address = operators_address
        self._inner = inner
        self._resolve = resolve

    def next_delivery(self, endpoint_id: str, claim_id: str) -> str | None:
        with self._database.reading() as session:
            delivery = WebhookDeliveries(session).next_pending(endpoint_id, claim_id)
            return None if delivery is None else delivery.id

    def attempt(self, delivery_id: str) -> str | None:
        now = datetime.now(UTC)
        with self._database.reading() as session:
            delivery = session.get(WebhookDelivery, delivery_id)
            if delivery is None or delivery.status is not WebhookDeliveryStatus.PENDING:
                return None
            event = session.get(WebhookEvent, delivery.event_position)
            endpoint = session.get(WebhookEndpoint, delivery.endpoint_id)
            assert event is not None  # foreign keys
            assert endpoint is not None
            endpoint_id = endpoint.id
            stopped = not endpoint.enabled or endpoint.deleted_at is not None
            if not stopped:
                url = endpoint.url
                body = body_of(event)
                headers = signature_headers(
                    event.id, now, body, signing_secrets(endpoint, self._box, now)
                )
        if stopped:  # disabled or deleted meanwhile: nothing is sent, the log says why
            self._stopped(delivery_id, now)
            return None
        outcome = send(
            url,
            headers,
            body,
            allow_loopback=self._allow_loopback,
            inner=self._inner,
            resolve=self._resolve,
        )
        with self._database.transaction() as session:
            values: dict[str, object] = {
                "attempts": WebhookDelivery.attempts + 1,
                "last_attempt_at": now,
                "last_status_code": outcome.status_code,
                "last_error": outcome.error,
            }
            if outcome.delivered:
                values |= {"status": WebhookDeliveryStatus.DELIVERED, "delivered_at": now}
            session.execute(
                update(WebhookDelivery)
                .where(
                    WebhookDelivery.id == delivery_id,
                    WebhookDelivery.status == WebhookDeliveryStatus.PENDING,
                )
                .values(**values)
            )
        if not outcome.delivered:
            log.warning("webhook %s to endpoint %s: %s", delivery_id, endpoint_id, outcome.error)
        return None if outcome.delivered else outcome.error

    def _stopped(self, delivery_id: str, now: datetime) -> None:
        with self._database.transaction() as session:
            session.execute(
                update(WebhookDelivery)
                .where(
                    WebhookDelivery.id == delivery_id,
                    WebhookDelivery.status == WebhookDeliveryStatus.PENDING,
                )
                .values(
                    status=WebhookDeliveryStatus.FAILED,
                    last_attempt_at=now,
                    last_error="not sent: the endpoint is disabled or deleted",
                )
            )

    def give_up(self, endpoint_id: str, delivery_id: str, days: float) -> None:
        """In one transaction, which the mails are part of: a mail that cannot be sent rolls
        the disabling back, and the retried activity does it all again."""
        now = datetime.now(UTC)
        with self._database.transaction() as session:
            endpoint = session.get(WebhookEndpoint, endpoint_id)
            delivery = session.get(WebhookDelivery, delivery_id)
            assert endpoint is not None
            reseller = session.get(Reseller, endpoint.reseller_id)
            assert reseller is not None
            if not endpoint.enabled:
                return  # disabled (and told) already
            last_error = delivery.last_error if delivery is not None else ""
            endpoint.enabled = False
            endpoint.disabled_at = now
            endpoint.disabled_reason = (
                f"not delivered for {days:g} days (delivery {delivery_id}): {last_error}"
            )
            session.execute(
                update(WebhookDelivery)
                .where(
                    WebhookDelivery.endpoint_id == endpoint_id,
                    WebhookDelivery.status == WebhookDeliveryStatus.PENDING,
                )
                .values(status=WebhookDeliveryStatus.FAILED)
            )
            facts = {
                "endpoint_id": endpoint.id,
                "organisation": reseller.company_name,
                "url": endpoint.url,
                "days": f"{days:g}",
                "last_error": last_error or "no answer",
            }
            log.warning("webhook endpoint %s disabled: %s", endpoint_id, facts["last_error"])
            self._mail(
                reseller.email, AccountMail.WEBHOOK_ENDPOINT_DISABLED, reseller.language, **facts
            )
            self._mail(
                self._operators_address,
                AccountMail.WEBHOOK_ENDPOINT_DISABLED,
                Language.ENGLISH,
                **facts,
            )
