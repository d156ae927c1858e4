"""SQL that differs between the two databases, written once."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import CursorResult
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from cashback.db.tables import Base


def insert_unless_present(
    session: Session, table: type[Base], values: Mapping[str, Any], keys: Sequence[str]
) -> bool:
    """INSERT ... ON CONFLICT (keys) DO NOTHING. True when the row was inserted, False when a row
    with the same keys was already there (then nothing changed)."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        pg = postgresql.insert(table).values(**values).on_conflict_do_nothing(index_elements=keys)
        return _inserted(session.execute(pg))
    if dialect == "sqlite":
        lite = sqlite.insert(table).values(**values).on_conflict_do_nothing(index_elements=keys)
        return _inserted(session.execute(lite))
    raise NotImplementedError(f"no upsert for {dialect}")


def _inserted(result: object) -> bool:
    assert isinstance(result, CursorResult)  # an INSERT answers with a cursor result
    return result.rowcount > 0
