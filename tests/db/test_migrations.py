"""The schema comes from the Alembic migrations, and the migrations agree with the models."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from cashback.db import make_engine, upgrade_to_head
from cashback.db.migrate import alembic_config
from cashback.db.tables import Base
from tests.db.conftest import Backend


def test_upgrade_to_head_builds_every_table_on_an_empty_database(empty_backend: Backend) -> None:
    engine = make_engine(empty_backend.url)
    try:
        assert inspect(engine).get_table_names() == []
        upgrade_to_head(empty_backend.url)
        upgrade_to_head(empty_backend.url)  # at head already: nothing to do
        tables = set(inspect(engine).get_table_names())
        assert tables == set(Base.metadata.tables) | {"alembic_version"}
    finally:
        engine.dispose()


def test_models_and_migrations_agree(empty_backend: Backend) -> None:
    """Autogenerate finds nothing to migrate: the migrations build exactly the models' schema."""
    engine = make_engine(empty_backend.url)
    try:
        upgrade_to_head(engine)
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()


def test_downgrade_to_base_removes_the_schema(empty_backend: Backend) -> None:
    engine = make_engine(empty_backend.url)
    try:
        upgrade_to_head(engine)
        with engine.begin() as connection:
            config = alembic_config()
            config.attributes["connection"] = connection
            command.downgrade(config, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()
