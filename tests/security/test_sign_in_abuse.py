"""R1: the sign-in throttle's growing delays (on a clock of its own, no waiting), the passwords
that are refused and why, the address a request is counted under, and the dummy hash that an
unknown address is verified against."""

from __future__ import annotations

from typing import Literal

import pytest
from argon2 import PasswordHasher, extract_parameters
from hypothesis import given
from hypothesis import strategies as st

from api.security import (
    PASSWORDS,
    Backoff,
    Passwords,
    SignInThrottle,
    password_problem,
    source_address,
)

pytestmark = pytest.mark.security

EMAIL = "jane.doe@contoso.example"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_r1_the_delay_grows_per_account_and_address_and_the_owner_elsewhere_is_free() -> None:
    """R1: five failures for an account from one address are free; then each try waits 30 s,
    60 s, 120 s, ... (at most 15 min) after the last failure. The same account from another
    address, and another account from the first, may try at once; a success from an address
    forgets that account's failures there."""
    clock = Clock()
    throttle = SignInThrottle(clock=clock)
    waits = []
    for _ in range(12):
        wait = throttle.retry_after("Victim@Contoso.example", "203.0.113.66")
        waits.append(wait)
        clock.now += wait
        throttle.failed("victim@contoso.example", "203.0.113.66")
    print(f"waits before each of 12 guesses: {waits}")
    assert waits == [0, 0, 0, 0, 0, 30, 60, 120, 240, 480, 900, 900]
    assert throttle.retry_after("victim@contoso.example", "203.0.113.66") == 900
    assert throttle.retry_after("victim@contoso.example", "198.51.100.7") == 0
    assert throttle.retry_after("other@contoso.example", "203.0.113.66") == 0

    clock.now += 899.5
    assert throttle.retry_after("victim@contoso.example", "203.0.113.66") == 1
    throttle.succeeded("victim@contoso.example", "203.0.113.66")
    assert throttle.retry_after("victim@contoso.example", "203.0.113.66") == 0


def test_r1_spraying_many_accounts_from_one_address_slows_that_address() -> None:
    """R1: twenty failures from one address, one per account, are free; then every account
    waits from there (30 s, then 60 s), while the same accounts are free elsewhere. A success
    there does not reset the address's count."""
    clock = Clock()
    throttle = SignInThrottle(clock=clock)
    for n in range(20):
        assert throttle.retry_after(f"user-{n}@contoso.example", "203.0.113.66") == 0
        throttle.failed(f"user-{n}@contoso.example", "203.0.113.66")
    assert throttle.retry_after("user-99@contoso.example", "203.0.113.66") == 30
    assert throttle.retry_after("user-99@contoso.example", "198.51.100.7") == 0
    throttle.succeeded("own@contoso.example", "203.0.113.66")
    clock.now += 30
    throttle.failed("user-20@contoso.example", "203.0.113.66")
    assert throttle.retry_after("user-21@contoso.example", "203.0.113.66") == 60


def test_r1_failures_are_forgotten_after_an_hour_and_memory_stays_bounded() -> None:
    """R1: a key without failures for an hour is forgotten (the owner starts afresh), and a
    spray of made-up accounts from many addresses never holds more keys than the capacity
    (the least recently failed go first)."""
    clock = Clock()
    throttle = SignInThrottle(
        clock=clock,
        per_account=Backoff(
            free=5, first_delay=30, longest_delay=900, forget_after=3600, capacity=1_000
        ),
        per_source=Backoff(
            free=20, first_delay=30, longest_delay=900, forget_after=3600, capacity=500
        ),
    )
    for _ in range(6):
        throttle.failed("victim@contoso.example", "203.0.113.66")
    assert throttle.retry_after("victim@contoso.example", "203.0.113.66") == 60
    clock.now += 3600
    assert throttle.retry_after("victim@contoso.example", "203.0.113.66") == 0
    assert (len(throttle.per_account), len(throttle.per_source)) == (0, 0)

    peak = 0
    for n in range(5_000):
        throttle.failed(f"spray-{n}@example.org", f"10.0.{n // 250}.{n % 250}")
        peak = max(peak, len(throttle.per_account), len(throttle.per_source))
    print(f"5,000 sprayed (account, address) pairs: at most {peak} keys held at once")
    assert (len(throttle.per_account), len(throttle.per_source)) == (1_000, 500)
    assert peak == 1_000


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "trusted_proxies", "counted"),
    [
        ("203.0.113.66", None, 0, "203.0.113.66"),
        ("203.0.113.66", "192.0.2.1", 0, "203.0.113.66"),  # forged: no proxy is trusted
        ("10.0.0.2", "192.0.2.1, 203.0.113.66", 1, "203.0.113.66"),  # the proxy appended it
        ("10.0.0.2", "192.0.2.1, 203.0.113.66, 10.0.0.9", 2, "203.0.113.66"),
        ("10.0.0.2", "203.0.113.66", 3, "203.0.113.66"),  # fewer hops than proxies
        ("10.0.0.2", None, 1, "10.0.0.2"),
        ("2001:db8:1:2:3:4:5:6", None, 0, "2001:db8:1:2::/64"),  # IPv6 by its /64
        (None, None, 0, "unknown"),
    ],
)
def test_r1_the_source_address_trusts_x_forwarded_for_only_behind_proxies(
    peer: str | None, forwarded_for: str | None, trusted_proxies: int, counted: str
) -> None:
    assert source_address(peer, forwarded_for, trusted_proxies) == counted


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short", "at least 12 characters"),
        ("Tr0ub4dor&3", "at least 12 characters"),
        ("aaaaaaaaaaaa", "repeats"),
        ("abababababab", "repeats"),
        ("monkeymonkey", "repeats"),
        ("1111122222333", "repeats"),
        ("123456789012", "sequence"),
        ("abcdefghijklm", "sequence"),
        ("qwertyuiopasdf", "sequence"),
        ("zyxwvutsrqpo", "sequence"),
        ("jane.doe-2026!", "e-mail address"),
        ("my-JANE-password", "e-mail address"),
        ("Password2026!", "most common"),
        ("P@ssw0rd2026!", "most common"),
        ("iloveyou1234", "most common"),
        ("1q2w3e4r5t6y", "most common"),
        ("Sunshine-1234", "most common"),
        ("correct horse battery staple", "most common"),
        ("x" * 200 + "yz0123456789" * 5, "at most 256 characters"),
    ],
)
def test_r1_weak_passwords_are_refused_with_a_reason(password: str, reason: str) -> None:
    problem = password_problem(password, EMAIL)
    assert problem is not None
    assert reason in problem


@pytest.mark.parametrize(
    "password",
    [
        "orchard-lantern-quarry-42",
        "Quince-Meadow-Tundra-81",
        "cashback-demo-2026",  # the demo's (development only)
        "bench-password-2026",  # the benchmarks'
        "Zq7#mK2p!vR9wL",
        "ein Pferd im Nebel 1912",
    ],
)
def test_r1_strong_passwords_are_accepted(password: str) -> None:
    assert password_problem(password, EMAIL) is None


@given(st.text(max_size=11))
def test_r1_every_password_under_twelve_characters_is_refused(password: str) -> None:
    assert "at least 12 characters" in (password_problem(password, EMAIL) or "")


@given(st.characters(), st.integers(min_value=12, max_value=64))
def test_r1_one_character_repeated_is_refused(character: str, times: int) -> None:
    assert "repeats" in (password_problem(character * times, EMAIL) or "")


@given(st.binary(min_size=12, max_size=48))
def test_r1_random_passwords_are_accepted(material: bytes) -> None:
    password = material.hex()  # 24 to 96 random hex digits
    if len(set(password)) >= 5:  # a short run of few hex digits is rightly refused
        assert password_problem(password, EMAIL) is None


def test_r1_an_unknown_account_is_verified_against_a_dummy_hash_of_the_same_cost() -> None:
    """R1: verifying for no account is False, after a verification against a dummy hash made
    with the same Argon2id parameters as real ones (so it costs the same)."""
    assert extract_parameters(PASSWORDS.dummy_hash) == extract_parameters(
        PASSWORDS.hash("orchard-lantern-quarry-42")
    )
    verified: list[str] = []

    class Recording(PasswordHasher):
        def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
            verified.append(str(hash))
            return super().verify(hash, password)

    passwords = Passwords(Recording(time_cost=1, memory_cost=8, parallelism=1))
    assert passwords.verify(None, "anything-at-all-here") is False
    assert verified == [passwords.dummy_hash]
    stored = passwords.hash("orchard-lantern-quarry-42")
    assert passwords.verify(stored, "orchard-lantern-quarry-42") is True
    assert passwords.verify(stored, "wrong-password-here") is False
