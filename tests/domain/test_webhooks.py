"""Webhooks' pure part (issue 17): which change of a claim is which event, and which endpoint
addresses are allowed (no SSRF)."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cashback.domain.status import ClaimStatus, NoticeKind
from cashback.domain.webhooks import (
    AddressRefused,
    WebhookEventType,
    check_address,
    check_url,
    event_for_change,
    event_for_notice,
)

S = ClaimStatus
E = WebhookEventType


@pytest.mark.parametrize(
    ("from_status", "to_status", "event"),
    [
        (None, S.SUBMITTED, E.SUBMITTED),
        (S.SUBMITTED, S.UNDER_REVIEW, E.UNDER_REVIEW),
        (S.UNDER_REVIEW, S.AWAITING_BANK_DETAILS, E.APPROVED),
        (S.UNDER_REVIEW, S.SCHEDULED_FOR_PAYMENT, E.APPROVED),
        (S.UNDER_REVIEW, S.REJECTED, E.REJECTED),
        (S.SUBMITTED, S.REJECTED, E.REJECTED),
        (S.AWAITING_BANK_DETAILS, S.SCHEDULED_FOR_PAYMENT, None),
        (S.SCHEDULED_FOR_PAYMENT, S.PAID, E.PAID),
        (S.SCHEDULED_FOR_PAYMENT, S.PAYMENT_FAILED, E.PAYMENT_FAILED),
        (S.PAYMENT_FAILED, S.SCHEDULED_FOR_PAYMENT, None),
        (S.AWAITING_BANK_DETAILS, S.CANCELLED, E.CANCELLED),
        (S.PAYMENT_FAILED, S.CANCELLED, E.CANCELLED),
        (S.AWAITING_BANK_DETAILS, S.AWAITING_BANK_DETAILS, None),
        (S.PAYMENT_FAILED, S.PAYMENT_FAILED, None),
        (S.UNDER_REVIEW, None, None),
    ],
)
def test_r9_r10_r14_r16_each_status_change_is_its_event(
    from_status: ClaimStatus | None, to_status: ClaimStatus | None, event: WebhookEventType | None
) -> None:
    """R9 (decision), R10 (bank details), R14 (paid), R16 (payment failed): a status reached
    is its event, an approval is a change out of the review, a status recorded again is none."""
    assert event_for_change(from_status, to_status) == event


@given(st.sampled_from(ClaimStatus), st.sampled_from(ClaimStatus))
def test_r9_every_event_type_of_a_change_matches_the_status_reached(
    from_status: ClaimStatus, to_status: ClaimStatus
) -> None:
    """R9: whatever the change, the event (if any) is the one of the status reached, or an
    approval out of the review."""
    event = event_for_change(from_status, to_status)
    if from_status == to_status:
        assert event is None
    elif event is E.APPROVED:
        assert from_status is S.UNDER_REVIEW
    elif event is not None:
        assert event.value == f"claim.{to_status.value.lower()}"


def test_r10_r16_notices_that_ask_for_bank_details_are_requests() -> None:
    """R10, R16: the request, the correction and the notice after a failed payment ask for
    bank details; no other notice is an event of its own."""
    asking = {kind for kind in NoticeKind if event_for_notice(kind) is not None}
    assert asking == {
        NoticeKind.BANK_DETAILS_REQUEST,
        NoticeKind.CORRECTION_REQUEST,
        NoticeKind.PAYMENT_FAILURE,
    }
    assert {event_for_notice(kind) for kind in asking} == {E.BANK_DETAILS_REQUESTED}


def test_the_event_types_are_the_eight_of_the_contract() -> None:
    assert {kind.value for kind in E} == {
        "claim.submitted",
        "claim.under_review",
        "claim.approved",
        "claim.rejected",
        "claim.bank_details_requested",
        "claim.paid",
        "claim.payment_failed",
        "claim.cancelled",
    }


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.1.2.3",
        "::1",
        "10.0.0.1",
        "172.16.0.1",
        "172.31.255.255",
        "192.168.1.1",
        "169.254.169.254",
        "fe80::1",
        "fc00::1",
        "fd12:3456::1",
        "0.0.0.0",
        "::",
        "224.0.0.1",
        "100.64.0.1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
    ],
)
def test_non_public_addresses_are_refused(address: str) -> None:
    """No SSRF: private, loopback, link-local, shared, multicast, reserved and unspecified
    addresses, IPv4 ones mapped into IPv6 too."""
    with pytest.raises(AddressRefused):
        check_address(address)


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_pass(address: str) -> None:
    check_address(address)


def test_loopback_only_with_the_development_setting() -> None:
    check_address("127.0.0.1", allow_loopback=True)
    check_address("::1", allow_loopback=True)
    for address in ("10.0.0.1", "169.254.169.254", "192.168.0.1"):
        with pytest.raises(AddressRefused):
            check_address(address, allow_loopback=True)


@given(st.ip_addresses())
def test_an_allowed_address_is_always_global(
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> None:
    """No SSRF, for any address: one that passes is global, unicast and not loopback."""
    try:
        check_address(str(ip))
    except AddressRefused:
        return
    effective = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped else ip
    assert effective.is_global
    assert not effective.is_loopback
    assert not effective.is_private
    assert not effective.is_link_local
    assert not effective.is_multicast


@pytest.mark.parametrize(
    ("url", "refusal"),
    [
        ("http://hooks.example/", "https://"),
        ("ftp://hooks.example/", "https://"),
        ("https:///path", "no host"),
        ("https://user:secret@hooks.example/", "credentials"),
        ("https://hooks.example/#frag", "fragment"),
        ("https://hooks.example:99999/", "not valid"),
        ("https://hooks.example/" + "a" * 2100, "longer"),
    ],
)
def test_urls_must_be_https_without_credentials(url: str, refusal: str) -> None:
    with pytest.raises(AddressRefused, match=refusal):
        check_url(url)


def test_urls_give_host_and_port() -> None:
    assert check_url("https://hooks.example/x") == ("hooks.example", 443)
    assert check_url("https://hooks.example:8443/x") == ("hooks.example", 8443)
    assert check_url("http://127.0.0.1:8080/x", allow_loopback=True) == ("127.0.0.1", 8080)
