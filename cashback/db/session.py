"""The unit of work: one transaction per activity call (or per API request).

Repositories take a `Session` and never commit; whoever opened the transaction commits it (on
success) or rolls it back (on an exception), here.

When the database fails (the connection drops, the server refuses connections, SQLite stays
locked, or the answer to a COMMIT is lost so nobody knows whether it happened), the error is
`transient` and the work may be done again: an activity is retried by Temporal; and where a
side effect outside the database has already happened (an e-mail went out, the bank paid),
`Database.write` retries the recording in place, so that a short outage does not make the
next attempt repeat the side effect. Work retried either way must be idempotent: after a lost
COMMIT answer it runs again on what the first run stored.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from sqlalchemy import Engine
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session, sessionmaker

from cashback.db.engine import SQLITE_BEGIN_IMMEDIATE, make_engine

T = TypeVar("T")

log = logging.getLogger(__name__)


def is_transient(error: BaseException) -> bool:
    """The database could not do the work now, and a later attempt may succeed: a lost or
    refused connection, a locked SQLite file, a serialization failure or deadlock (all
    OperationalError), an unusable connection (InterfaceError, or any error that invalidated
    its connection), or no connection free in the pool in time."""
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(error, sa_exc.OperationalError | sa_exc.InterfaceError | sa_exc.TimeoutError)


class Database:
    """Sessions on one engine. `transaction()` is for work that writes: on SQLite it starts with
    BEGIN IMMEDIATE, so concurrent writers queue on the busy timeout instead of failing when a
    read lock cannot be upgraded. `reading()` is for work that only reads."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._writing = sessionmaker(
            bind=engine.execution_options(**{SQLITE_BEGIN_IMMEDIATE: True}),
            expire_on_commit=False,
        )
        self._reading = sessionmaker(
            bind=engine.execution_options(**{SQLITE_BEGIN_IMMEDIATE: False}),
            expire_on_commit=False,
        )

    @classmethod
    def from_url(cls, url: str | URL) -> Database:
        return cls(make_engine(url))

    @property
    def dialect(self) -> str:
        """`sqlite` or `postgresql`."""
        return self.engine.dialect.name

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session in one transaction: committed when the block ends, rolled back when it
        raises."""
        with self._writing() as session, session.begin():
            yield session

    def write(
        self,
        work: Callable[[Session], T],
        *,
        within: float = 10.0,
        first_pause: float = 0.05,
        longest_pause: float = 2.0,
    ) -> T:
        """`work(session)` in one transaction, committed; after a transient failure (see
        `is_transient`) done again in a new transaction, with growing pauses, until it succeeds
        or `within` seconds have passed (then the last error is raised). `work` must be
        idempotent: when a COMMIT's answer was lost, the next run finds what the first stored."""
        deadline = time.monotonic() + within
        pause = first_pause
        attempt = 1
        while True:
            try:
                with self.transaction() as session:
                    return work(session)
            except Exception as error:
                if not is_transient(error) or time.monotonic() + pause > deadline:
                    raise
                log.warning(
                    "database write failed (attempt %d, %s); trying again in %.2f s",
                    attempt,
                    type(error).__name__,
                    pause,
                )
            time.sleep(pause)
            pause = min(pause * 2, longest_pause)
            attempt += 1

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A session for reads only; whatever it changed is rolled back when it closes."""
        with self._reading() as session:
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
