"""Load shapes and figures for the benchmarks: closed loops (N requests, C in flight), open loops
(requests sent at a fixed rate, whether or not earlier ones have answered), percentiles and the
markdown tables every script prints."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field


def percentile(values: Sequence[float], p: float) -> float:
    """The `p`-th percentile (0-100) by the nearest-rank method; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass
class Run:
    """What one load run measured: seconds per request, failures, wall time."""

    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    elapsed: float = 0.0

    @property
    def completed(self) -> int:
        return len(self.latencies)

    @property
    def rate(self) -> float:
        """Completed requests per second."""
        return self.completed / self.elapsed if self.elapsed else math.nan

    def ms(self, p: float) -> float:
        return percentile(self.latencies, p) * 1000


async def closed_loop(
    requests: int, concurrency: int, send: Callable[[int], Awaitable[None]]
) -> Run:
    """`requests` calls of `send(i)` (i = 0 .. requests-1), `concurrency` in flight at once."""
    run = Run()
    counter = iter(range(requests))

    async def client() -> None:
        for index in counter:
            started = time.perf_counter()
            try:
                await send(index)
            except Exception as error:
                run.failures.append(f"{type(error).__name__}: {error}")
                continue
            run.latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    run.elapsed = time.perf_counter() - started
    return run


async def open_loop(rate: float, seconds: float, send: Callable[[int], Awaitable[None]]) -> Run:
    """`send(i)` at `rate` per second for `seconds`, each at its scheduled instant whatever the
    earlier ones are doing. Latency counts from the scheduled instant (a late start is part of
    what a user waits), so a server that falls behind shows it."""
    run = Run()
    count = max(1, int(rate * seconds))
    loop = asyncio.get_running_loop()
    origin = loop.time() + 0.05

    async def one(index: int) -> None:
        scheduled = origin + index / rate
        await asyncio.sleep(max(0.0, scheduled - loop.time()))
        try:
            await send(index)
        except Exception as error:
            run.failures.append(f"{type(error).__name__}: {error}")
            return
        run.latencies.append(loop.time() - scheduled)

    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(count)))
    run.elapsed = time.perf_counter() - started
    return run


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A markdown table (numbers right-aligned), ready to paste into docs/performance.md."""
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [
        max(len(str(header)), *(len(row[i]) for row in cells)) if cells else len(str(header))
        for i, header in enumerate(headers)
    ]
    numeric = [
        all(_is_number(row[i]) for row in rows) if rows else False for i in range(len(headers))
    ]

    def line(values: Sequence[str]) -> str:
        return (
            "| "
            + " | ".join(
                value.rjust(widths[i]) if numeric[i] else value.ljust(widths[i])
                for i, value in enumerate(values)
            )
            + " |"
        )

    rule = (
        "| "
        + " | ".join(
            ("-" * (widths[i] - 1) + ":") if numeric[i] else "-" * widths[i]
            for i in range(len(headers))
        )
        + " |"
    )
    return "\n".join([line([str(h) for h in headers]), rule, *(line(row) for row in cells)])


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _cell(value: object) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        return f"{value:.1f}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


def mib(size: int) -> float:
    return size / 1024 / 1024
