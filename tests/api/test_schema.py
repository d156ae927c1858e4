"""The OpenAPI contract under generated input (schemathesis): no request, however malformed,
gets a server error (5xx), on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis import APIOperation, Case
from schemathesis.core.result import Ok
from sqlalchemy.engine import URL

from tests.api.claims_helpers import claim_fields, claim_rows, invoice_pdf
from tests.api.harness import Api
from tests.db.conftest import _create_schema, _drop_schema

MAX_EXAMPLES = 25


@pytest.fixture(scope="module")
def postgres_schema(postgres_url: URL) -> Iterator[URL]:
    schema, url = _create_schema(postgres_url)
    try:
        yield url
    finally:
        _drop_schema(postgres_url, schema)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def settings_overrides(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The app on SQLite, and on PostgreSQL (which refuses what SQLite stores, e.g. NUL)."""
    if request.param == "sqlite":
        return {}
    url: URL = request.getfixturevalue("postgres_schema")
    return {"database_url": url.render_as_string(hide_password=False)}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@asynccontextmanager
async def serving(api: Api) -> AsyncIterator[str]:
    """The app on a loopback port, in this event loop (where its Temporal client lives)."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(api.app, host="127.0.0.1", port=port, log_level="error", log_config=None)
    )
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 (uvicorn offers no event)
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


def fuzz_operation(
    operation: APIOperation[Any, Any, Any, Any], base_url: str, headers: dict[str, str]
) -> list[str]:
    """One operation with generated input; its 5xx answers, described."""
    failures: list[str] = []

    @given(case=operation.as_strategy())
    @hypothesis_settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def check(case: Case[Any]) -> None:
        response = case.call(base_url=base_url, headers=headers)
        if response.status_code >= 500:
            failures.append(f"{operation.label}: {response.status_code} {response.text[:200]}")

    check()
    return failures


def fuzz(base_url: str, reseller: dict[str, str], operator: dict[str, str]) -> list[str]:
    """Every operation, as a reseller, or as an operator on the operators' paths."""
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    failures: list[str] = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operation = result.ok()
        headers = operator if operation.path.startswith(("/operator", "/codec")) else reseller
        failures += fuzz_operation(operation, base_url, headers)
    return failures


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_generated_requests_never_get_a_server_error(api: Api) -> None:
    """Every documented operation, called with generated (valid and invalid) input, as a
    reseller or as an operator: no 5xx."""
    await api.create_offer()
    reseller = await api.register()
    async with serving(api) as base_url:
        failures = await asyncio.to_thread(fuzz, base_url, reseller.headers, api.operator)
    assert failures == []


async def test_nul_characters_in_text_are_refused_not_a_server_error(api: Api) -> None:
    """Text with a NUL character (which PostgreSQL refuses) gets a clear 4xx, and a claim with
    one is refused before anything is stored."""
    signed_in = await api.http.post("/auth/token", data={"username": "a\x00b", "password": "x"})
    assert signed_in.status_code in (401, 422)
    offer = await api.create_offer()
    reseller = await api.register()
    fields = claim_fields(offer["offer_id"], "OL-NUL", customer_name="Fabrikam\x00 AG")
    submitted = await api.http.post(
        "/claims",
        data=fields,
        files={"invoice": ("invoice.pdf", invoice_pdf(), "application/pdf")},
        headers=reseller.headers,
    )
    assert submitted.status_code == 422
    assert submitted.json()["error"] == "invalid_text"
    assert claim_rows(api) == []
