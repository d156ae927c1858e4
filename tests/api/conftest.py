"""The API over HTTP (httpx against the app), with a claim worker running the real activities on
the time-skipping Temporal dev server, a SQLite database, the local invoice store, aiosmtpd and
the simulated bank."""

from __future__ import annotations

import ipaddress
import shutil
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import URL
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from api.services import Services
from cashback.config import Settings
from cashback.db import upgrade_to_head
from cashback.webhooks.endpoints import WebhookEndpoints
from cashback.wiring import build_activities, open_database, webhook_secret_box
from tests.api.harness import Api
from tests.db.conftest import schema_of_its_own
from tests.mail.mailbox import Mailbox, SmtpServer
from worker import claim_worker


def offline_resolver(host: str, port: int, *args: Any, **kwargs: Any) -> Any:
    """getaddrinfo without the network: literal addresses and `localhost` (/etc/hosts) only;
    any other name is as unknown as to a resolver that is down."""
    if host != "localhost":
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise socket.gaierror(socket.EAI_NONAME, f"{host}: no DNS in the tests") from None
    return socket.getaddrinfo(host, port, *args, **kwargs)


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Settings a test module changes (override this fixture there)."""
    return {}


@pytest.fixture
def postgres_schema(postgres_url: URL) -> Iterator[URL]:
    """A PostgreSQL schema of its own for one test: what one test stores, the next does not
    see (dropped afterwards)."""
    with schema_of_its_own(postgres_url) as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def on_both_databases(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Settings for the API on SQLite, then on PostgreSQL (a schema of its own): a module
    whose tests run on both returns it from its `settings_overrides`."""
    if request.param == "sqlite":
        return {}
    url: URL = request.getfixturevalue("postgres_schema")
    return {"database_url": url.render_as_string(hide_password=False)}


@pytest.fixture
async def api(
    env: WorkflowEnvironment,
    migrated_sqlite: Path,
    smtp_server: SmtpServer,
    mailbox: Mailbox,
    tmp_path: Path,
    settings_overrides: dict[str, Any],
) -> AsyncIterator[Api]:
    settings = Settings(
        data_dir=tmp_path,
        task_queue=f"claims-{uuid.uuid4()}",
        smtp_host=smtp_server.host,
        smtp_port=smtp_server.port,
        public_base_url="http://testserver",
        **settings_overrides,
    )
    if settings.database_url == "":  # SQLite: a copy of the schema migrated once per session
        shutil.copyfile(migrated_sqlite, settings.data_dir / "cashback.sqlite3")
    else:
        upgrade_to_head(settings.resolved_database_url)
    database = open_database(settings)
    services = Services.build(settings, env.client, database)
    # No DNS from the tests: webhook endpoints resolve literal addresses and localhost only.
    services.webhooks = WebhookEndpoints(
        database,
        webhook_secret_box(settings),
        allow_loopback=settings.webhook_allow_loopback,
        resolve=offline_resolver,
    )
    app = create_app(services)
    activities = build_activities(settings, database)
    async with (
        claim_worker(
            env.client,
            activities,
            decision_key=settings.decision_key_bytes,
            task_queue=settings.task_queue,
        ),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as http,
    ):
        yield Api(app=app, http=http, services=services, env=env, mailbox=mailbox)
    database.dispose()
