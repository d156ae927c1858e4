"""The OpenAPI contract under generated input (schemathesis): no request, however malformed,
gets a server error (5xx), and the answers match the documented schema."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis import APIOperation, Case
from schemathesis.core.result import Ok

from tests.api.harness import Api

MAX_EXAMPLES = 25


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
