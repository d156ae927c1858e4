"""Fixtures of the integration tests: the claim workflow on the time-skipping dev server, with
the real activities of `cashback.wiring.build_activities` wired to real servers.

The servers are the session fixtures of tests/conftest.py: the Temporal dev server (`env`),
aiosmtpd (`smtp_server`, `mailbox`) and PostgreSQL (`postgres_url`, failing in CI when
unreachable). moto's S3 server is started here, with a bucket of its own (moto keeps one
backend per process, which tests/invoices' server shares). The database runs on a new SQLite
file per test and on a PostgreSQL schema of this session; the simulated bank keeps its ledger
in the test's tmp_path.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy.engine import URL

from cashback.config import InvoiceBackend, Settings
from cashback.db import Database, upgrade_to_head
from cashback.invoices import S3InvoiceStorage
from cashback.wiring import invoice_storage, open_database
from tests.db.conftest import BACKENDS, schema_of_its_own
from tests.invoices.conftest import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY, moto_s3
from tests.mail.mailbox import SmtpServer
from tests.mail.notices import SUPPORT

PUBLIC_BASE_URL = "https://cashback.example"
INVOICE_BUCKET = "cashback-integration-invoices"


@pytest.fixture(scope="session")
def s3_url() -> Iterator[str]:
    """moto's S3 server on a free loopback port, with the invoice bucket made."""
    with moto_s3(INVOICE_BUCKET) as (url, _):
        yield url


@pytest.fixture(scope="session")
def postgres_schema(postgres_url: URL) -> Iterator[URL]:
    """A PostgreSQL schema of its own for this test session, at the head migration."""
    with schema_of_its_own(postgres_url, migrated=True) as url:
        yield url


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest) -> str:
    """`CASHBACK_DATABASE_URL`: empty for the embedded default (a SQLite file in the data
    directory), or the session's PostgreSQL schema."""
    if request.param == "sqlite":
        return ""
    url: URL = request.getfixturevalue("postgres_schema")
    return url.render_as_string(hide_password=False)


@pytest.fixture
def settings(tmp_path: Path, database_url: str, s3_url: str, smtp_server: SmtpServer) -> Settings:
    """The program's settings as a deployment would give them: invoices in S3, mail over SMTP,
    the simulated bank and (for SQLite) the database in the data directory."""
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        invoice_backend=InvoiceBackend.S3,
        s3_endpoint_url=s3_url,
        s3_bucket=INVOICE_BUCKET,
        s3_region=REGION,
        s3_access_key_id=ACCESS_KEY_ID,
        s3_secret_access_key=SecretStr(SECRET_ACCESS_KEY),
        smtp_host=smtp_server.host,
        smtp_port=smtp_server.port,
        support_address=SUPPORT,
        public_base_url=PUBLIC_BASE_URL,
    )


@pytest.fixture
def database(settings: Settings) -> Iterator[Database]:
    """The configured database, opened as the worker opens it, at the head migration."""
    database = open_database(settings)
    try:
        if database.dialect == "sqlite":
            upgrade_to_head(database.engine)
        yield database
    finally:
        database.dispose()


@pytest.fixture
def invoices(settings: Settings) -> S3InvoiceStorage:
    """The invoice store the settings configure: the API uploads with it before submitting."""
    store = invoice_storage(settings)
    assert isinstance(store, S3InvoiceStorage)
    return store
