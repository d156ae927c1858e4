"""SQL that differs between the two databases, written once."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnClause, literal_column
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from cashback.db.tables import Base


def insert_unless_present(
    session: Session, table: type[Base], values: Mapping[str, Any], keys: Sequence[str]
) -> bool:
    """INSERT ... ON CONFLICT (keys) DO NOTHING. True when the row was inserted, False when a row
    with the same keys was already there (then nothing changed)."""
    dialect = session.get_bind().dialect.name
    # RETURNING tells reliably whether the row went in (psycopg reports no rowcount here).
    marker: ColumnClause[Any] = literal_column("1")
    if dialect == "postgresql":
        pg = postgresql.insert(table).values(**values).on_conflict_do_nothing(index_elements=keys)
        return session.execute(pg.returning(marker)).first() is not None
    if dialect == "sqlite":
        lite = sqlite.insert(table).values(**values).on_conflict_do_nothing(index_elements=keys)
        return session.execute(lite.returning(marker)).first() is not None
    raise NotImplementedError(f"no upsert for {dialect}")
