"""Passwords (Argon2id, OWASP parameters), bearer tokens (random, stored hashed) and the sign-in
throttle."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

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


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def new_token() -> str:
    """A bearer token: 256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def is_free_mail(email: str) -> bool:
    return email.rsplit("@", 1)[-1].lower() in FREE_MAIL_DOMAINS


class SignInThrottle:
    """At most `attempts` failed sign-ins per account within `window` seconds; then the account
    is refused until the oldest failure leaves the window. In memory, per API process.

    Memory stays bounded by the failures within one window: accounts whose failures all left
    the window are forgotten, swept whenever the number of accounts doubled since the last
    sweep (so a spray of made-up addresses neither grows it forever nor costs a sweep per try).
    """

    def __init__(
        self,
        attempts: int = 5,
        window: float = 300.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sweep_at: int = 10_000,
    ) -> None:
        self._attempts = attempts
        self._window = window
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._sweep_at = sweep_at
        self._min_sweep_at = sweep_at
        self._lock = threading.Lock()

    @property
    def accounts(self) -> int:
        """Accounts with failures remembered (stale ones included until the next sweep)."""
        return len(self._failures)

    def retry_after(self, account: str) -> int:
        """Seconds until `account` may try again (0: now)."""
        with self._lock:
            failures = self._recent(account.lower())
            if len(failures) < self._attempts:
                return 0
            return max(1, int(failures[0] + self._window - self._clock()) + 1)

    def failed(self, account: str) -> None:
        with self._lock:
            key = account.lower()
            if key not in self._failures and len(self._failures) >= self._sweep_at:
                self._sweep()
            self._failures.setdefault(key, deque()).append(self._clock())

    def succeeded(self, account: str) -> None:
        with self._lock:
            self._failures.pop(account.lower(), None)

    def _recent(self, key: str) -> deque[float]:
        """The failures of `key` within the window (an account without any is forgotten)."""
        failures = self._failures.get(key)
        if failures is None:
            return deque()
        oldest = self._clock() - self._window
        while failures and failures[0] <= oldest:
            failures.popleft()
        if not failures:
            del self._failures[key]
        return failures

    def _sweep(self) -> None:
        for key in list(self._failures):
            self._recent(key)
        self._sweep_at = max(self._min_sweep_at, 2 * len(self._failures))
