"""bench.traced_worker (issue 16, part 4): the traced worker's dumps hold the figures
docs/performance.md quotes, and `compare` names what grew between two of them."""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.traced_worker import compare, dump


@pytest.fixture
def tracing() -> Iterator[None]:
    tracemalloc.start(1)
    try:
        yield
    finally:
        tracemalloc.stop()


class Grown:
    """An object type only this test makes, so that it shows among the types that grew."""


def test_dumps_hold_the_heap_figures_and_compare_names_what_grew(
    tmp_path: Path, tracing: None
) -> None:
    dump(tmp_path, 0)
    kept = [Grown() for _ in range(5000)]
    dump(tmp_path, 1)

    figures = json.loads((tmp_path / "heap-1.json").read_text())
    assert figures["rss_bytes"] > figures["traced_bytes"] > 0
    assert figures["malloc"]["in_use_bytes"] > 0
    assert figures["types"]["Grown"] == 5000
    report = compare(tmp_path, 0, 1)
    assert "+5000 Grown" in report
    assert "test_traced_worker.py:" in report  # the allocation site of the kept objects
    assert len(kept) == 5000
