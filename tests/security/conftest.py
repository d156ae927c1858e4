"""The security tests use the API of tests/api (the app over httpx with a claim worker on the
time-skipping dev server, aiosmtpd, the local invoice store; SQLite unless a test module
overrides `settings_overrides`), and PostgreSQL schemas of their own."""

from __future__ import annotations

from tests.api.conftest import api, on_both_databases, postgres_schema, settings_overrides

__all__ = ["api", "on_both_databases", "postgres_schema", "settings_overrides"]
