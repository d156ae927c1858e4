"""Issue 16: what several API processes (uvicorn `--workers`, replicas) must share lives in the
database: the sign-in throttle's failure counts (R1), counted by every process alike. And a
submission stores its claim with one statement (D1, D2 held by the unique indexes)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.engine import Connection

from api.security import SignInThrottle
from cashback.db import Database, DuplicateClaim
from cashback.db.claims import store_claim
from cashback.db.sign_in_failures import SignInFailures
from cashback.db.tables import Claim, SignInFailure
from tests.db.seed import add_offer, add_reseller, new_claim

VICTIM = "Victim@Contoso.example"
ADDRESS = "203.0.113.66"


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0  # the wall clock the processes share

    def __call__(self) -> float:
        return self.now


def processes(database: Database, clock: Clock, count: int = 2) -> list[SignInThrottle]:
    """The throttles of `count` API processes on one database."""
    return [SignInThrottle(clock=clock, shared=SignInFailures(database)) for _ in range(count)]


def test_r1_the_throttle_counts_the_failures_of_every_api_process(database: Database) -> None:
    """R1: guesses spread over two processes count as one sequence: five free, then 30 s,
    60 s, ...; the owner elsewhere and other accounts are free; a success in one process
    forgets the account's failures in both."""
    clock = Clock()
    first, second = processes(database, clock)
    waits = []
    for n in range(8):
        throttle = (first, second)[n % 2]  # a load balancer alternating between processes
        wait = throttle.retry_after(VICTIM, ADDRESS)
        waits.append(wait)
        clock.now += wait
        throttle.failed(VICTIM.lower(), ADDRESS)
    assert waits == [0, 0, 0, 0, 0, 30, 60, 120]
    assert (first.retry_after(VICTIM, ADDRESS), second.retry_after(VICTIM, ADDRESS)) == (240, 240)
    assert second.retry_after(VICTIM, "198.51.100.7") == 0
    assert second.retry_after("other@contoso.example", ADDRESS) == 0
    first.succeeded(VICTIM, ADDRESS)
    assert second.retry_after(VICTIM, ADDRESS) == 0


def test_r1_spraying_accounts_through_several_processes_slows_the_address(
    database: Database,
) -> None:
    """R1: twenty failures from one address over three processes, one account each, are
    free; then the address waits in every process."""
    clock = Clock()
    throttles = processes(database, clock, 3)
    for n in range(20):
        throttles[n % 3].failed(f"user-{n}@contoso.example", ADDRESS)
    assert {throttle.retry_after("user-99@contoso.example", ADDRESS) for throttle in throttles} == {
        30
    }


def test_r1_concurrent_failures_are_each_counted_and_stale_ones_forgotten(
    database: Database,
) -> None:
    """R1: failures recorded at the same moment by many processes all count (one atomic
    upsert each); an hour without failures forgets a key, and its row is deleted with the
    next failure anywhere."""
    clock = Clock()
    throttles = processes(database, clock, 6)
    with ThreadPoolExecutor(6) as pool:
        list(pool.map(lambda throttle: throttle.failed(VICTIM, ADDRESS), throttles))
    with database.reading() as session:
        counted = session.get(SignInFailure, ("account", f"{VICTIM.lower()} {ADDRESS}"))
        assert counted is not None
        assert counted.failures == 6
    assert throttles[0].retry_after(VICTIM, ADDRESS) == 60  # 6 failures: 30 s after the fifth

    clock.now += 3600
    assert throttles[1].retry_after(VICTIM, ADDRESS) == 0
    throttles[2].failed("someone@contoso.example", "198.51.100.7")
    with database.reading() as session:
        keys = set(session.scalars(select(SignInFailure.key)))
    assert keys == {"someone@contoso.example 198.51.100.7", "198.51.100.7"}


@pytest.fixture
def statements(database: Database) -> Iterator[list[str]]:
    """The SQL statements the database runs, by their first word."""
    seen: list[str] = []

    def record(connection: Connection, cursor: object, statement: str, *args: object) -> None:
        seen.append(statement.split(None, 1)[0].upper())

    event.listen(database.engine, "before_cursor_execute", record)
    yield seen
    event.remove(database.engine, "before_cursor_execute", record)


def test_d1_d2_a_claim_is_stored_with_one_statement(
    database: Database, statements: list[str]
) -> None:
    """D1, D2: storing a new claim is one INSERT (no reads first, no savepoint); the same
    idempotency key again answers the stored claim; another claim for the agreement raises
    `DuplicateClaim` naming the first."""
    with database.transaction() as session:
        add_reseller(session)
        add_offer(session)
    statements.clear()
    stored = store_claim(database, new_claim("claim-1", agreement_number="OL-7"))
    assert [s for s in statements if s in {"SELECT", "INSERT", "SAVEPOINT", "UPDATE"}] == ["INSERT"]
    assert (stored.id, stored.agreement_key, stored.projected_sequence) == ("claim-1", "OL7", 0)

    again = store_claim(database, new_claim("claim-2", idempotency_key="key-claim-1"))
    assert again.id == "claim-1"
    with pytest.raises(DuplicateClaim) as refused:
        store_claim(database, new_claim("claim-3", agreement_number="ol 7"))
    assert refused.value.existing_claim_id == "claim-1"
    with database.reading() as session:
        assert session.scalar(select(func.count()).select_from(Claim)) == 1
