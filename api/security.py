"""Passwords (Argon2id, OWASP parameters; which ones are refused), bearer tokens (random, stored
hashed), the sign-in throttle and the address a request came from."""

from __future__ import annotations

import hashlib
import ipaddress
import math
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from functools import cached_property
from typing import Protocol

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn.frequency_lists import FREQUENCY_LISTS

# OWASP Password Storage Cheat Sheet: Argon2id, 19 MiB of memory, 2 iterations, 1 lane.
_HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)

# Free-mail providers: R1 registration needs a company address.
FREE_MAIL_DOMAINS = frozenset(
    {
        "gmail.com", "googlemail.com", "yahoo.com", "yahoo.de", "outlook.com", "hotmail.com",
        "hotmail.de", "live.com", "msn.com", "aol.com", "icloud.com", "me.com", "gmx.de",
        "gmx.net", "gmx.at", "web.de", "t-online.de", "freenet.de", "mail.com", "proton.me",
        "protonmail.com", "yandex.com", "yandex.ru", "zoho.com",
    }
)  # fmt: skip


class Passwords:
    """Hashes and verifies passwords. Verifying for an account that does not exist checks the
    password against a dummy hash of the same cost, so that sign-in takes as long for an unknown
    address as for a known one (no account enumeration by timing)."""

    def __init__(self, hasher: PasswordHasher = _HASHER) -> None:
        self._hasher = hasher

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        """Whether `password` matches `password_hash`; None (no such account): always False,
        after the same work."""
        try:
            matches = self._hasher.verify(password_hash or self.dummy_hash, password)
        except (VerificationError, InvalidHashError):
            return False
        return matches and password_hash is not None

    @cached_property
    def dummy_hash(self) -> str:
        """A hash of a random password nobody knows, with the hasher's parameters."""
        return self._hasher.hash(secrets.token_urlsafe(32))


PASSWORDS = Passwords()


def hash_password(password: str) -> str:
    return PASSWORDS.hash(password)


MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256

# zxcvbn's 30,000 most common passwords (from leaked password sets; MIT licence), read offline.
COMMON_PASSWORDS = frozenset(FREQUENCY_LISTS["passwords"]) | {
    "correcthorsebatterystaple",  # the famous passphrase: in every breach corpus since 2011
}
_SEQUENCES = (
    "abcdefghijklmnopqrstuvwxyz" * 2,
    "0123456789" * 4,
    "qwertyuiopasdfghjklzxcvbnm" * 2,
    "qwertzuiopasdfghjklyxcvbnm" * 2,
    "azertyuiopqsdfghjklmwxcvbn" * 2,
    "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p" * 2,
)
_UNLEET = str.maketrans("0134579@$!|+", "oieastgasiit")
_UNLEET_L = str.maketrans("0134579@$!|+", "oleastgasllt")
_SEPARATORS = re.compile(r"[\s._\-]+")
_NON_LETTERS_AT_ENDS = re.compile(r"^[^a-z]+|[^a-z]+$")


def password_problem(password: str, email: str = "") -> str | None:
    """Why `password` may not be used, in a sentence a person can act on; None if it may.

    Refused: fewer than 12 or more than 256 characters; only a few different characters or one
    piece repeated; a keyboard, letter or digit sequence; the e-mail address's name in it; one
    of the 30,000 most common passwords, also when written in capitals, with l33t digits or
    with digits and symbols around it (`Password2026!`)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return (
            f"use at least {MIN_PASSWORD_LENGTH} characters for the password "
            "(a few unrelated words are easy to remember)"
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"use at most {MAX_PASSWORD_LENGTH} characters for the password"
    lower = password.lower()
    if len(set(lower)) < 5 or (lower + lower).find(lower, 1) < len(lower):
        return (
            "the password repeats itself or uses only a few different characters; choose one "
            "that is harder to guess"
        )
    if any(lower in sequence or lower[::-1] in sequence for sequence in _SEQUENCES):
        return "the password is a keyboard or alphabet sequence; choose one that is harder to guess"
    local = email.rsplit("@", 1)[0].lower() if "@" in email else ""
    pieces = [piece for piece in re.split(r"[^a-z0-9]+", local) if len(piece) >= 4]
    if (len(local) >= 3 and local in lower) or any(piece in lower for piece in pieces):
        return "the password contains your e-mail address; choose one that does not"
    if _is_common(lower):
        return (
            "the password is one of the most common ones, found in leaked password lists; "
            "choose another (a few unrelated words are easy to remember)"
        )
    return None


def _is_common(lower: str) -> bool:
    """Whether the password is a common one, also with separators, l33t digits or digits and
    symbols around it taken away."""
    candidates = set()
    for written in (lower, _SEPARATORS.sub("", lower)):
        core = _NON_LETTERS_AT_ENDS.sub("", written)
        for unleet in (_UNLEET, _UNLEET_L):
            candidates |= {
                written,
                core,
                core.translate(unleet),
                _NON_LETTERS_AT_ENDS.sub("", written.translate(unleet)),
            }
    return not candidates.isdisjoint(COMMON_PASSWORDS)


def new_token() -> str:
    """A bearer token: 256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def is_free_mail(email: str) -> bool:
    return email.rsplit("@", 1)[-1].lower() in FREE_MAIL_DOMAINS


class Backoff:
    """Failures per key with a growing delay: after `free` failures, the next try must wait
    `first_delay` seconds after the last failure, doubling with each further failure up to
    `longest_delay`. A key without a failure for `forget_after` seconds is forgotten.

    Memory is bounded: at most `capacity` keys, the least recently failed one forgotten first
    (keys are kept in the order of their last failure, so forgetting stale ones is cheap).
    """

    def __init__(
        self,
        *,
        free: int,
        first_delay: float,
        longest_delay: float,
        forget_after: float,
        capacity: int,
    ) -> None:
        self.free = free
        self.first_delay = first_delay
        self.longest_delay = longest_delay
        self.forget_after = forget_after
        self.capacity = capacity
        self._failures: OrderedDict[Hashable, tuple[int, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._failures)

    def wait(self, key: Hashable, now: float) -> float:
        """Seconds `key` must still wait before its next try (0: now)."""
        self._forget_stale(now)
        count, last = self._failures.get(key, (0, now))
        return self.wait_after(count, last, now)

    def wait_after(self, failures: int, last: float, now: float) -> float:
        """Seconds still to wait at `now` after `failures` failures, the last at `last` (0: none,
        or forgotten)."""
        if last <= now - self.forget_after:
            return 0.0
        return max(0.0, last + self.delay(failures) - now)

    def delay(self, failures: int) -> float:
        """The wait after the last of `failures` failures."""
        if failures < self.free:
            return 0.0
        return min(self.longest_delay, self.first_delay * 2.0 ** min(failures - self.free, 64))

    def failed(self, key: Hashable, now: float) -> None:
        self._forget_stale(now)
        count, _ = self._failures.pop(key, (0, now))
        self._failures[key] = (count + 1, now)
        while len(self._failures) > self.capacity:
            self._failures.popitem(last=False)

    def forget(self, key: Hashable) -> None:
        self._failures.pop(key, None)

    def _forget_stale(self, now: float) -> None:
        while self._failures:
            _, last = next(iter(self._failures.values()))
            if last > now - self.forget_after:
                return
            self._failures.popitem(last=False)


def _default_backoff(free: int) -> Backoff:
    return Backoff(
        free=free, first_delay=30.0, longest_delay=900.0, forget_after=3600.0, capacity=100_000
    )


class SharedFailures(Protocol):
    """Failure counts kept where every API process sees them (`cashback.db.sign_in_failures`)."""

    def counts(
        self, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], tuple[int, float]]: ...

    def failed(self, keys: Sequence[tuple[str, str]], now: float, forget_after: float) -> None: ...

    def forget(self, key: tuple[str, str]) -> None: ...


class SignInThrottle:
    """Failed sign-ins slow down the address they come from, not the account: a growing delay
    per (account, source address), so that guessing one account's password from one address
    cannot lock its owner out elsewhere, and per source address across accounts, against
    spraying guesses over many accounts. In memory, per process; with `shared` (the API's, in
    the database) the counts are every process's, on the wall clock they share.

    Defaults: 5 failures for one account from one address, then 30 s, 60 s, ... up to 15 min
    between tries; 20 failures from one address, then the same delays for every account. A key
    without failures for an hour is forgotten; at most 100,000 keys of each kind.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        per_account: Backoff | None = None,
        per_source: Backoff | None = None,
        shared: SharedFailures | None = None,
    ) -> None:
        self._clock = clock
        self._shared = shared
        # `is None`: an empty Backoff is falsy (it has a length)
        self.per_account = per_account if per_account is not None else _default_backoff(free=5)
        self.per_source = per_source if per_source is not None else _default_backoff(free=20)
        self._lock = threading.Lock()

    @classmethod
    def across_processes(cls, shared: SharedFailures) -> SignInThrottle:
        """The throttle of API processes that share `shared` (their clocks: the wall's)."""
        return cls(clock=time.time, shared=shared)

    def retry_after(self, account: str, source: str) -> int:
        """Whole seconds until `account` may try again from `source` (0: now)."""
        if self._shared is not None:
            now = self._clock()
            per_account, per_source = _account_key(account, source), ("source", source)
            counts = self._shared.counts([per_account, per_source])
            waits = [
                backoff.wait_after(*counts[key], now)
                for backoff, key in ((self.per_account, per_account), (self.per_source, per_source))
                if key in counts
            ]
            return math.ceil(max(waits, default=0.0))
        with self._lock:
            now = self._clock()
            wait = max(
                self.per_account.wait((account.lower(), source), now),
                self.per_source.wait(source, now),
            )
        return math.ceil(wait)

    def failed(self, account: str, source: str) -> None:
        if self._shared is not None:
            self._shared.failed(
                [_account_key(account, source), ("source", source)],
                self._clock(),
                max(self.per_account.forget_after, self.per_source.forget_after),
            )
            return
        with self._lock:
            now = self._clock()
            self.per_account.failed((account.lower(), source), now)
            self.per_source.failed(source, now)

    def succeeded(self, account: str, source: str) -> None:
        """The account's failures from `source` are forgotten; the source's are not (signing in
        to one's own account must not reset the count of guesses at others)."""
        if self._shared is not None:
            self._shared.forget(_account_key(account, source))
            return
        with self._lock:
            self.per_account.forget((account.lower(), source))


def _account_key(account: str, source: str) -> tuple[str, str]:
    return ("account", f"{account.lower()[:320]} {source}")


def source_address(peer: str | None, forwarded_for: str | None, trusted_proxies: int) -> str:
    """The address a request came from, as the throttle counts it: the peer's, or, behind
    `trusted_proxies` proxies, the one the outermost of them wrote into X-Forwarded-For (a
    client can write anything there itself). IPv6 addresses count by their /64 network (one
    host usually has all of it)."""
    address = peer or "unknown"
    if trusted_proxies and forwarded_for:
        hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
        if hops:
            address = hops[-min(trusted_proxies, len(hops))]
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address[:100]
    if parsed.version == 6:
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)
