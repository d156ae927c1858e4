"""R13: one-time, expiring invitations to the secure bank-details page.

Each bank-details request (and correction or payment-failure notice) carries its own link with a
random token of 192 bits; the database keeps only the token's SHA-256, so a copy of the database
opens no page. A token works until the notice's respond-by time and only once.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime

from sqlalchemy import select, update

from cashback.db.session import Database
from cashback.db.statements import insert_unless_present
from cashback.db.tables import BankDetailsInvitation

# How long `mint` rides out a database failure before the activity fails (and is retried).
MINT_WITHIN_SECONDS = 5.0


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class BankDetailsInvitations:
    def __init__(self, database: Database) -> None:
        self._database = database

    def mint(self, claim_id: str, notice_key: str, expires_at: datetime) -> str:
        """A new token for `claim_id`, valid until `expires_at`; only its hash is stored. A
        database failure is ridden out in place with the same token (idempotent on its hash),
        so a lost COMMIT answer leaves no second, never-sent invitation behind."""
        token = secrets.token_urlsafe(24)
        values = {
            "token_sha256": _digest(token),
            "claim_id": claim_id,
            "notice_key": notice_key,
            "created_at": datetime.now(UTC),
            "expires_at": expires_at,
            "used_at": None,
        }
        self._database.write(
            lambda session: insert_unless_present(
                session, BankDetailsInvitation, values, keys=("token_sha256",)
            ),
            within=MINT_WITHIN_SECONDS,
        )
        return token

    def claim_for(self, token: str, *, now: datetime | None = None) -> str | None:
        """The claim a valid (unused, unexpired) token opens, or None."""
        now = now or datetime.now(UTC)
        with self._database.reading() as session:
            invitation = session.get(BankDetailsInvitation, _digest(token))
        if invitation is None or invitation.used_at is not None or invitation.expires_at <= now:
            return None
        return invitation.claim_id

    def use(self, token: str, *, now: datetime | None = None) -> str | None:
        """Spend the token: the claim it opened, or None when it was not (or no longer) valid.
        Two racing uses of one token: exactly one gets the claim."""
        now = now or datetime.now(UTC)
        digest = _digest(token)
        with self._database.transaction() as session:
            spent = session.execute(
                update(BankDetailsInvitation)
                .where(
                    BankDetailsInvitation.token_sha256 == digest,
                    BankDetailsInvitation.used_at.is_(None),
                    BankDetailsInvitation.expires_at > now,
                )
                .values(used_at=now)
                .returning(BankDetailsInvitation.claim_id)
            ).first()
            if spent is None:
                return None
            return str(spent[0])

    def outstanding(self, claim_id: str) -> int:
        """Unused invitations of a claim (for tests and the operator's view)."""
        with self._database.reading() as session:
            rows = session.scalars(
                select(BankDetailsInvitation.token_sha256).where(
                    BankDetailsInvitation.claim_id == claim_id,
                    BankDetailsInvitation.used_at.is_(None),
                )
            )
            return len(list(rows))
