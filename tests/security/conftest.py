"""The security tests use the API of tests/api (the app over httpx with a claim worker on the
time-skipping dev server, aiosmtpd, the local invoice store; SQLite unless a test module
overrides `settings_overrides`), and PostgreSQL schemas of their own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.engine import URL

from tests.api.conftest import api, settings_overrides
from tests.db.conftest import _create_schema, _drop_schema

__all__ = ["api", "postgres_schema", "settings_overrides"]


@pytest.fixture
def postgres_schema(postgres_url: URL) -> Iterator[URL]:
    """A PostgreSQL schema of its own for one test (dropped afterwards)."""
    schema, url = _create_schema(postgres_url)
    try:
        yield url
    finally:
        _drop_schema(postgres_url, schema)
