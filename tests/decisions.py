"""Decisions as the program lets operators make them: signed with the configured decision key
(CASHBACK_DECISION_KEY, the development key unless the environment sets one), as the API and
the codec sign them (D3)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache

from cashback.config import Settings
from cashback.decisions import DecisionKey, Signed


@cache
def decision_key() -> bytes:
    """The key every test worker verifies with and `signed` signs with."""
    return Settings().decision_key_bytes


def signed(
    decision: Signed,
    claim_id: str,
    *,
    skipped: timedelta = timedelta(0),
    operator: str | None = None,
) -> Signed:
    """`decision` (a claim's or a payee decision) signed for `claim_id` now, by
    `decision.operator` unless `operator` is given; `skipped` is how far the claim's clock
    was fast-forwarded (its validator reads that clock)."""
    return DecisionKey(decision_key()).sign(
        decision,
        claim_id=claim_id,
        operator=operator or decision.operator,
        issued_at=datetime.now(UTC) + skipped,
    )
