"""A forgotten password is reset with a one-time link that expires (the reseller portal).

Asking answers alike for every address (no account enumeration); an address with an account
gets a link valid for an hour, at most one new link every few minutes (an inbox cannot be
flooded). Only the token's SHA-256 is stored. A reset sets the new password, spends the link
and every other open link of the user, and signs out every session of the user."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, update

from cashback.db import Database
from cashback.db.tables import ApiToken, PasswordReset, User
from cashback.domain.reseller import Language
from cashback.mail.accounts import AccountMail, AccountMailer

RESET_LIFETIME = timedelta(hours=1)
RESET_INTERVAL = timedelta(minutes=5)  # at most one new link per address this often
RESET_PATH = "/portal/password-reset"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class ResetLink:
    """An open link: whose account it resets, and in which language the page speaks."""

    email: str
    language: Language


class PasswordResets:
    """Requests and uses of password-reset links."""

    def __init__(self, database: Database, mailer: AccountMailer, public_base_url: str) -> None:
        self._database = database
        self._mailer = mailer
        self._base_url = public_base_url.rstrip("/")

    def request(self, email: str, *, now: datetime | None = None) -> None:
        """Mail a reset link to `email` if a reseller's user has this address and no link was
        sent to it in the last minutes; nothing otherwise (the caller answers alike). Raises
        `MailServerUnavailable` when the mail could not be sent (the link is then not kept)."""
        now = now or datetime.now(UTC)
        token = secrets.token_urlsafe(32)
        with self._database.transaction() as session:
            user = session.scalar(select(User).where(User.email == email.strip().lower()))
            if user is None or user.reseller is None:
                return
            recent = session.scalar(
                select(PasswordReset.token_sha256).where(
                    PasswordReset.user_id == user.id,
                    PasswordReset.created_at > now - RESET_INTERVAL,
                )
            )
            if recent is not None:
                return
            session.add(
                PasswordReset(
                    token_sha256=_digest(token),
                    user_id=user.id,
                    created_at=now,
                    expires_at=now + RESET_LIFETIME,
                )
            )
            address, language = user.email, user.reseller.language
            # Sent inside the transaction: a link whose mail failed is not kept.
            self._mailer.send(
                address,
                AccountMail.PASSWORD_RESET,
                language,
                link=f"{self._base_url}{RESET_PATH}?token={token}&lang={language.value}",
                valid_minutes=int(RESET_LIFETIME.total_seconds() // 60),
            )

    def open(self, token: str, *, now: datetime | None = None) -> ResetLink | None:
        """The account an open link resets; None for an unknown, used or expired link."""
        now = now or datetime.now(UTC)
        with self._database.reading() as session:
            found = session.execute(
                select(PasswordReset, User)
                .join(User, User.id == PasswordReset.user_id)
                .where(PasswordReset.token_sha256 == _digest(token))
            ).first()
            if found is None:
                return None
            link, user = found
            if link.used_at is not None or link.expires_at <= now or user.reseller is None:
                return None
            return ResetLink(user.email, user.reseller.language)

    def reset(self, token: str, password_hash: str, *, now: datetime | None = None) -> bool:
        """Set the password of the link's user, spend the link (and the user's other open
        links) and sign out every session of the user; False when the link is unknown, used
        or expired (nothing changes)."""
        now = now or datetime.now(UTC)
        with self._database.transaction() as session:
            link = session.get(PasswordReset, _digest(token), with_for_update=True)
            if link is None or link.used_at is not None or link.expires_at <= now:
                return False
            session.execute(
                update(PasswordReset)
                .where(PasswordReset.user_id == link.user_id, PasswordReset.used_at.is_(None))
                .values(used_at=now)
            )
            session.execute(
                update(User).where(User.id == link.user_id).values(password_hash=password_hash)
            )
            session.execute(delete(ApiToken).where(ApiToken.user_id == link.user_id))
        return True
