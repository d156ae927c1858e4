from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.stack import Stack, running_stack


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    """The whole product, as `make run` starts it (tests/e2e/stack.py)."""
    with running_stack(tmp_path) as stack:
        yield stack
