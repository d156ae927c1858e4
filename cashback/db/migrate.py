"""Bringing a database to the current schema with the Alembic migrations in `migrations/`."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine
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
        with engine.begin() as connection:
            config = alembic_config()
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    finally:
        if engine is not database:
            engine.dispose()


if __name__ == "__main__":  # `python -m cashback.db.migrate`: the one-shot migration service
    from cashback.config import Settings

    upgrade_to_head(Settings().resolved_database_url)
