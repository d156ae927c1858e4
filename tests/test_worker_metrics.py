"""Issue 13: the worker exports the Temporal SDK's own metrics through the SDK's runtime
telemetry (`CASHBACK_WORKER_METRICS_ADDRESS`): a client on that runtime serves them in
Prometheus' format, and they move with its calls."""

from __future__ import annotations

import asyncio
import urllib.request

import pytest
from temporalio.testing import WorkflowEnvironment

from bench.stack import free_port
from cashback.config import Settings
from cashback.temporal import connect, metrics_runtime


def _scrape(address: str) -> str:
    with urllib.request.urlopen(f"http://{address}/metrics", timeout=5) as answer:
        text: str = answer.read().decode()
    return text


async def test_the_sdk_metrics_are_served_and_count_the_clients_calls(
    env: WorkflowEnvironment,
) -> None:
    address = f"127.0.0.1:{free_port()}"
    client = await connect(
        env.client.service_client.config.target_host,
        env.client.namespace,
        runtime=metrics_runtime(address),
    )
    await client.count_workflows()
    text = await asyncio.to_thread(_scrape, address)
    requests = [
        line
        for line in text.splitlines()
        if line.startswith("temporal_request{") and 'operation="CountWorkflowExecutions"' in line
    ]
    assert requests, text[:2000]
    assert float(requests[0].rsplit(" ", 1)[1]) >= 1


def test_the_worker_metrics_address_is_host_and_port() -> None:
    assert Settings(worker_metrics_address="0.0.0.0:9464").worker_metrics_address == "0.0.0.0:9464"
    assert Settings().worker_metrics_address is None
    with pytest.raises(ValueError, match="worker_metrics_address"):
        Settings(worker_metrics_address="http://0.0.0.0:9464/metrics")
