"""Every database test runs twice: on SQLite (a file in a temporary directory) and on
PostgreSQL (a schema of its own per test session, in CASHBACK_TEST_POSTGRES_URL's database).

Without a reachable PostgreSQL server the PostgreSQL half is skipped, with the reason shown;
in CI (the CI variable is set) it fails instead.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL, make_url

from cashback.db import Database, make_engine, upgrade_to_head
from cashback.db.tables import Base

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


@dataclass(frozen=True)
class Backend:
    name: str  # "sqlite" or "postgres"
    url: URL
    sqlite_file: Path | None = None


def _create_schema(server: URL) -> tuple[str, URL]:
    schema = f"cashback_test_{uuid.uuid4().hex[:12]}"
    admin = make_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    finally:
        admin.dispose()
    return schema, server.update_query_dict({"options": f"-csearch_path={schema}"})


def _drop_schema(server: URL, schema: str) -> None:
    admin = make_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    finally:
        admin.dispose()


@contextmanager
def schema_of_its_own(server: URL, *, migrated: bool = False) -> Iterator[URL]:
    """A new PostgreSQL schema on `server` (its URL), at the head migration if `migrated`;
    dropped afterwards."""
    schema, url = _create_schema(server)
    try:
        if migrated:
            upgrade_to_head(url)
        yield url
    finally:
        _drop_schema(server, schema)


@pytest.fixture(params=BACKENDS)
def empty_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """A database with no tables at all: a new SQLite file, or a new PostgreSQL schema."""
    if request.param == "sqlite":
        path = tmp_path / "empty.db"
        yield Backend("sqlite", make_url(f"sqlite:///{path}"), sqlite_file=path)
        return
    with schema_of_its_own(request.getfixturevalue("postgres_url")) as url:
        yield Backend("postgres", url)


@pytest.fixture(scope="session", params=BACKENDS)
def migrated_backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Backend, Database]]:
    """A database brought to the head migration, once per test session and backend."""
    server: URL | None = None
    schema = ""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("sqlite") / "cashback.db"
        backend = Backend("sqlite", make_url(f"sqlite:///{path}"), sqlite_file=path)
    else:
        server = request.getfixturevalue("postgres_url")
        schema, url = _create_schema(server)
        backend = Backend("postgres", url)
    database = Database.from_url(backend.url)
    try:
        upgrade_to_head(database.engine)
        yield backend, database
    finally:
        database.dispose()
        if server is not None:
            _drop_schema(server, schema)


@pytest.fixture
def backend(migrated_backend: tuple[Backend, Database]) -> Backend:
    return migrated_backend[0]


@pytest.fixture
def database(migrated_backend: tuple[Backend, Database]) -> Iterator[Database]:
    """The migrated database, emptied after each test."""
    database = migrated_backend[1]
    yield database
    with database.transaction() as session:
        for table in reversed(Base.metadata.sorted_tables):
            session.execute(table.delete())
