"""Bringing a database to the current schema with the Alembic migrations in `migrations/`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine
from sqlalchemy.engine import URL

from cashback.db.engine import make_engine

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def alembic_config() -> Config:
    """Alembic's configuration for the project's migrations, without alembic.ini."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade_to_head(database: str | URL | Engine) -> None:
    """Apply every migration not yet applied (`alembic upgrade head`)."""
    engine = database if isinstance(database, Engine) else make_engine(database)
    try:
        with (
            engine.connect() as connection,
            _foreign_keys_off_on_sqlite(connection),
            connection.begin(),
        ):
            config = alembic_config()
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
            _check_foreign_keys(connection)
    finally:
        if engine is not database:
            engine.dispose()


@contextmanager
def _foreign_keys_off_on_sqlite(connection: Connection) -> Iterator[None]:
    """SQLite alters a table by building a new one and dropping the old (Alembic's batch mode):
    rows of other tables that refer to it would block the drop, so foreign keys are off for
    the migration (SQLite ignores the switch inside a transaction: it is set before BEGIN)
    and checked once at its end (`_check_foreign_keys`)."""
    if connection.dialect.name != "sqlite":
        yield
        return
    driver = connection.connection.driver_connection
    assert driver is not None
    driver.execute("PRAGMA foreign_keys = OFF")
    try:
        yield
    finally:
        driver.execute("PRAGMA foreign_keys = ON")


def _check_foreign_keys(connection: Connection) -> None:
    if connection.dialect.name == "sqlite":
        broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
        if broken:
            raise RuntimeError(f"the migration left rows that refer to nothing: {broken[:5]}")


if __name__ == "__main__":  # `python -m cashback.db.migrate`: the one-shot migration service
    from cashback.config import Settings

    upgrade_to_head(Settings().resolved_database_url)
