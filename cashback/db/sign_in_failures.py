"""R1: the sign-in throttle's failure counts in the database, so that every API process (uvicorn
`--workers`, replicas) counts the same failures. One row per key: how many failures, and when
the last one was (seconds since the epoch, the wall clock every process shares)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import case, delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from cashback.db.session import Database
from cashback.db.tables import SignInFailure

Key = tuple[str, str]  # (kind, key): ("account", "<address> <source>") or ("source", "<source>")


class SignInFailures:
    """Failure counts shared through the database; one short transaction per call."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def counts(self, keys: Sequence[Key]) -> dict[Key, tuple[int, float]]:
        """(failures, last failure) of each key that has failures; stale ones included (the
        throttle forgets them by their age)."""
        with self._database.reading() as session:
            found = {key: session.get(SignInFailure, key) for key in keys}
        return {key: (row.failures, row.last_failed_at) for key, row in found.items() if row}

    def failed(self, keys: Sequence[Key], now: float, forget_after: float) -> None:
        """One more failure for each key at `now`; a key whose last failure is `forget_after`
        seconds old starts again at one. Rows older than that are deleted (the table stays as
        small as the last `forget_after` seconds' failures)."""
        stale = now - forget_after

        def work(session: Session) -> None:
            for kind, key in keys:
                session.execute(self._count_one(kind, key, now, stale))
            session.execute(delete(SignInFailure).where(SignInFailure.last_failed_at <= stale))

        self._database.write(work)

    def forget(self, key: Key) -> None:
        def work(session: Session) -> None:
            session.execute(
                delete(SignInFailure).where(
                    SignInFailure.kind == key[0], SignInFailure.key == key[1]
                )
            )

        self._database.write(work)

    def _count_one(
        self, kind: str, key: str, now: float, stale: float
    ) -> sqlite.Insert | postgresql.Insert:
        """An upsert, atomic on both databases: two processes failing at once count twice."""
        values = {"kind": kind, "key": key, "failures": 1, "last_failed_at": now}
        inserting: sqlite.Insert | postgresql.Insert = (
            postgresql.insert(SignInFailure).values(values)
            if self._database.dialect == "postgresql"
            else sqlite.insert(SignInFailure).values(values)
        )
        return inserting.on_conflict_do_update(
            index_elements=[SignInFailure.kind, SignInFailure.key],
            set_={
                "failures": case(
                    (SignInFailure.last_failed_at <= stale, 1),
                    else_=SignInFailure.failures + 1,
                ),
                "last_failed_at": now,
            },
        )
