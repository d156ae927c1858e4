"""Webhooks about claims (issue 17), the pure part: which change of a claim is which event, and
which endpoint addresses the program may send to (no SSRF)."""

from __future__ import annotations

import ipaddress
from datetime import date
from enum import StrEnum
from urllib.parse import urlsplit

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from cashback.domain.money import Money
from cashback.domain.status import ClaimStatus, NoticeKind


class WebhookEventType(StrEnum):
    SUBMITTED = "claim.submitted"
    UNDER_REVIEW = "claim.under_review"
    APPROVED = "claim.approved"
    REJECTED = "claim.rejected"
    BANK_DETAILS_REQUESTED = "claim.bank_details_requested"
    PAID = "claim.paid"
    PAYMENT_FAILED = "claim.payment_failed"
    CANCELLED = "claim.cancelled"


# A status reached, and the event it is (approval is a change out of the review, below).
_REACHED = {
    ClaimStatus.SUBMITTED: WebhookEventType.SUBMITTED,
    ClaimStatus.UNDER_REVIEW: WebhookEventType.UNDER_REVIEW,
    ClaimStatus.REJECTED: WebhookEventType.REJECTED,
    ClaimStatus.PAID: WebhookEventType.PAID,
    ClaimStatus.PAYMENT_FAILED: WebhookEventType.PAYMENT_FAILED,
    ClaimStatus.CANCELLED: WebhookEventType.CANCELLED,
}
_APPROVED = frozenset({ClaimStatus.AWAITING_BANK_DETAILS, ClaimStatus.SCHEDULED_FOR_PAYMENT})


def event_for_change(
    from_status: ClaimStatus | None, to_status: ClaimStatus | None
) -> WebhookEventType | None:
    """The event a recorded status change is, if any: a status reached (submitted, under
    review, rejected, paid, payment failed, cancelled), or an approval (R9: out of the review
    into the bank-details step or the payment). A status recorded again is no event."""
    if to_status is None or to_status == from_status:
        return None
    if from_status is ClaimStatus.UNDER_REVIEW and to_status in _APPROVED:
        return WebhookEventType.APPROVED
    return _REACHED.get(to_status)


def event_for_notice(kind: NoticeKind) -> WebhookEventType | None:
    """R10, R16: a notice that asks for bank details (a request, a correction, after a failed
    payment) is `claim.bank_details_requested`; other notices are told by status events."""
    return WebhookEventType.BANK_DETAILS_REQUESTED if kind.asks_for_bank_details else None


class AddressRefused(ValueError):
    """An endpoint the program will not send to; the message says why."""


def check_address(address: str, *, allow_loopback: bool = False) -> None:
    """No SSRF: only addresses on the public internet. Private (RFC 1918, unique local),
    loopback, link-local (cloud metadata at 169.254.169.254), multicast, reserved and
    unspecified addresses are refused; loopback only with `allow_loopback` (development).
    An IPv4 address mapped into IPv6 is judged as the IPv4 address."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        raise AddressRefused(f"{address!r} is not an IP address") from None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        if allow_loopback:
            return
        raise AddressRefused(f"{ip} is a loopback address")
    if ip.is_link_local:
        raise AddressRefused(f"{ip} is a link-local address (e.g. cloud metadata)")
    if ip.is_multicast or ip.is_unspecified or ip.is_reserved:
        raise AddressRefused(f"{ip} is not a unicast internet address")
    if ip.is_private or not ip.is_global:
        raise AddressRefused(f"{ip} is a private or special-purpose address")


MAX_URL_LENGTH = 2048


def check_url(url: str, *, allow_loopback: bool = False) -> tuple[str, int]:
    """An endpoint's URL: `https://` (plain `http://` only to loopback, with `allow_loopback`),
    a host name or address, no credentials, no fragment. Answers (host, port); the host's
    addresses are checked with `check_address` when it is resolved (at registration and at
    every delivery)."""
    if len(url) > MAX_URL_LENGTH:
        raise AddressRefused(f"the URL is longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise AddressRefused(f"the URL is not valid: {error}") from None
    host = parts.hostname
    if not host:
        raise AddressRefused("the URL names no host")
    if parts.username is not None or parts.password is not None:
        raise AddressRefused("the URL must not carry credentials")
    if parts.fragment:
        raise AddressRefused("the URL must not have a fragment (#...)")
    if parts.scheme == "https":
        return host, port or 443
    if parts.scheme == "http" and allow_loopback:
        return host, port or 80  # its addresses must be loopback: checked when resolved
    raise AddressRefused("the endpoint must be an https:// URL")


def check_plain_http_address(address: str) -> None:
    """Plain http:// (development only) goes to loopback and nowhere else."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if not ip.is_loopback:
        raise AddressRefused(f"plain http:// goes to loopback only, not {ip}")


class ClaimDeadlines(BaseModel):
    model_config = ConfigDict(frozen=True)

    review_deadline: date | None = Field(default=None, description="R9: decision due by")
    respond_by: AwareDatetime | None = Field(
        default=None, description="R10, R16: bank details due by"
    )
    payout_date: date | None = Field(default=None, description="R14, R15: payout scheduled on")
    payout_due: date | None = Field(default=None, description="R14: 45 days after approval")


class ClaimEventData(BaseModel):
    """What an event tells about the claim: never bank details (R13), not even masked."""

    model_config = ConfigDict(frozen=True)

    claim_id: str
    status: ClaimStatus
    offer_id: str
    agreement_number: str
    amount: Money | None = Field(description="D4: known once the claim is approved")
    deadlines: ClaimDeadlines
    reasons: tuple[str, ...] = Field(
        default=(), description="a rejection's or cancellation's reasons"
    )


class ClaimEvent(BaseModel):
    """The body of every webhook (Standard Webhooks: `type`, `timestamp`, `data`)."""

    model_config = ConfigDict(
        frozen=True,
        json_schema_extra={
            "examples": [
                {
                    "type": "claim.approved",
                    "timestamp": "2026-12-09T14:05:00Z",
                    "data": {
                        "claim_id": "c_3f9a1b2c4d5e",
                        "status": "AWAITING_BANK_DETAILS",
                        "offer_id": "o_demo_office",
                        "agreement_number": "OL-DEMO-1",
                        "amount": {"minor_units": 125000, "currency": "EUR"},
                        "deadlines": {
                            "review_deadline": "2026-12-24",
                            "respond_by": None,
                            "payout_date": None,
                            "payout_due": "2027-01-23",
                        },
                        "reasons": [],
                    },
                }
            ]
        },
    )

    type: WebhookEventType
    timestamp: AwareDatetime
    data: ClaimEventData
