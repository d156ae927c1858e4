"""The unit of work: one transaction per activity call (or per API request).

Repositories take a `Session` and never commit; whoever opened the transaction commits it (on
success) or rolls it back (on an exception), here.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session, sessionmaker

from cashback.db.engine import SQLITE_BEGIN_IMMEDIATE, make_engine


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

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A session for reads only; whatever it changed is rolled back when it closes."""
        with self._reading() as session:
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
