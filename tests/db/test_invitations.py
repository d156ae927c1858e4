"""R13: the link in each bank-details request is one-time and expires with the request; the
database keeps only a hash of its token."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from cashback.db import Database
from cashback.db.invitations import BankDetailsInvitations
from cashback.db.tables import BankDetailsInvitation
from tests.db.seed import add_claims

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def test_r13_a_token_opens_its_claim_until_it_expires(database: Database) -> None:
    """R13: valid until the respond-by time of its request, then refused."""
    with database.transaction() as session:
        add_claims(session, "claim-1")
    invitations = BankDetailsInvitations(database)
    token = invitations.mint("claim-1", "claim-1/bank_details_request/1", NOW + timedelta(days=5))

    assert len(token) >= 32  # 192 random bits, URL-safe
    assert invitations.claim_for(token, now=NOW) == "claim-1"
    assert invitations.claim_for(token, now=NOW + timedelta(days=5)) is None
    assert invitations.claim_for("not-a-token", now=NOW) is None


def test_r13_a_token_works_once_even_when_raced(database: Database) -> None:
    """R13: one-time: of ten racing uses exactly one gets the claim; afterwards it is refused."""
    with database.transaction() as session:
        add_claims(session, "claim-1")
    invitations = BankDetailsInvitations(database)
    token = invitations.mint("claim-1", "claim-1/bank_details_request/1", NOW + timedelta(days=5))

    with ThreadPoolExecutor(max_workers=5) as pool:
        results = list(pool.map(lambda _: invitations.use(token, now=NOW), range(10)))
    assert results.count("claim-1") == 1
    assert results.count(None) == 9
    assert invitations.claim_for(token, now=NOW) is None
    assert invitations.outstanding("claim-1") == 0


def test_r13_only_the_tokens_hash_is_stored(database: Database) -> None:
    """R13: the database holds the SHA-256 of the token, never the token."""
    with database.transaction() as session:
        add_claims(session, "claim-1")
    token = BankDetailsInvitations(database).mint("claim-1", "k", NOW + timedelta(days=5))
    with database.reading() as session:
        stored = session.scalars(select(BankDetailsInvitation.token_sha256)).all()
    assert len(stored) == 1
    assert token not in stored[0]
    assert len(stored[0]) == 64
