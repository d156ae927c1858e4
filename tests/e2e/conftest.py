from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.stack import free_port
from tests.e2e.stack import Stack, running_stack


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    """The whole product, as `make run` starts it (tests/e2e/stack.py), its worker serving the
    Temporal SDK's metrics on a free loopback port."""
    metrics = f"127.0.0.1:{free_port()}"
    with running_stack(tmp_path, CASHBACK_WORKER_METRICS_ADDRESS=metrics) as stack:
        yield stack
