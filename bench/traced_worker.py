"""The claim worker (`worker.py`) with its Python heap traced: a bench-only wrapper (issue 16,
part 4, "why the worker's memory grows past its workflow cache").

    CASHBACK_BENCH_HEAP_DIR=/tmp/heap python -m bench.traced_worker

starts `tracemalloc` (`BENCH_HEAP_FRAMES` frames a trace, default 1: the allocating line;
with 8 frames the worker's tasks took over 5 s and timed out under the bench's load; 0: no
tracing, only the other figures) and runs the worker. On SIGUSR1 it collects garbage and
writes into the folder `heap-<n>.snapshot` (the tracemalloc snapshot, for
`Snapshot.load(...).compare_to(...)`) and `heap-<n>.json`: the process's RSS, tracemalloc's
traced total, glibc's view of the heap (`mallinfo2`: in use, free in the arenas) and the 40
commonest object types of `gc.get_objects()`; with `BENCH_HEAP_TRIM=1` then glibc's
`malloc_trim(0)` and the RSS after it.
`python -m bench.traced_worker compare DIR 0 2` says what grew from dump 0 to dump 2.
`python -m bench.open_claims --trace-worker DIR` starts its worker this way and dumps after
each step. Tracing slows the worker (every allocation records its traceback): its CPU
figures mean nothing then, only the memory ones.
"""

from __future__ import annotations

import asyncio
import collections
import ctypes
import gc
import json
import os
import signal
import sys
import tracemalloc
from pathlib import Path
from types import FrameType

import worker

HEAP_DIR = "CASHBACK_BENCH_HEAP_DIR"
TRIM = "BENCH_HEAP_TRIM"  # 1: after each dump, malloc_trim(0) and the RSS after it
FRAMES = "BENCH_HEAP_FRAMES"  # not CASHBACK_*: bench.stack passes it through


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
            "fordblks", "keepcost",
        )
    ]  # fmt: skip


def malloc_figures() -> dict[str, int]:
    """glibc's heap: bytes taken from the system (arenas + mmapped), in use, free inside."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallinfo2.restype = _MallInfo2
    except (OSError, AttributeError):
        return {}
    info = libc.mallinfo2()
    return {
        "arena_bytes": info.arena,
        "mmapped_bytes": info.hblkhd,
        "in_use_bytes": info.uordblks,
        "free_in_arenas_bytes": info.fordblks,
    }


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def dump(folder: Path, number: int) -> None:
    gc.collect()
    if tracemalloc.is_tracing():
        tracemalloc.take_snapshot().dump(str(folder / f"heap-{number}.snapshot"))
    traced, peak = tracemalloc.get_traced_memory()
    types = collections.Counter(type(o).__qualname__ for o in gc.get_objects())
    figures = {
        "rss_bytes": rss_bytes(),
        "traced_bytes": traced,
        "traced_peak_bytes": peak,
        "malloc": malloc_figures(),
        "gc_objects": len(gc.get_objects()),
        "types": dict(types.most_common(40)),
    }
    if os.environ.get(TRIM) == "1":  # what glibc gives back when asked: its free memory
        ctypes.CDLL("libc.so.6").malloc_trim(0)
        figures["rss_after_malloc_trim_bytes"] = rss_bytes()
    # written last: its presence says the snapshot is complete
    (folder / f"heap-{number}.json").write_text(json.dumps(figures, indent=1))


def compare(folder: Path, first: int, second: int, top: int = 25) -> str:
    """What grew in the worker's heap between two dumps: the figures, the allocation sites
    (tracemalloc, by line) and the object types (gc) that grew most."""
    a, b = (json.loads((folder / f"heap-{n}.json").read_text()) for n in (first, second))
    lines = [f"heap-{first} -> heap-{second}"]
    for key in ("rss_bytes", "traced_bytes"):
        lines.append(f"  {key}: {a[key] / 2**20:.1f} -> {b[key] / 2**20:.1f} MiB")
    for key in a["malloc"]:
        lines.append(f"  malloc {key}: {a['malloc'][key] / 2**20:.1f} -> "
                     f"{b['malloc'][key] / 2**20:.1f} MiB")  # fmt: skip
    lines.append(f"  gc objects: {a['gc_objects']} -> {b['gc_objects']}")
    grown = sorted(
        ((b["types"].get(name, 0) - a["types"].get(name, 0), name) for name in b["types"]),
        reverse=True,
    )
    lines += [f"  {delta:+8d} {name}" for delta, name in grown[:12]]
    if not (folder / f"heap-{first}.snapshot").exists():
        return "\n".join(lines)
    before, after = (
        tracemalloc.Snapshot.load(str(folder / f"heap-{n}.snapshot")) for n in (first, second)
    )
    lines.append(f"  allocation sites that grew most (top {top}):")
    lines += [f"  {stat}" for stat in after.compare_to(before, "lineno")[:top]]
    return "\n".join(lines)


def main() -> None:
    folder = Path(os.environ[HEAP_DIR])
    folder.mkdir(parents=True, exist_ok=True)
    frames = int(os.environ.get(FRAMES, "1"))
    if frames > 0:  # 0: only the RSS, glibc's and gc's figures, at no cost between dumps
        tracemalloc.start(frames)
    dumps = iter(range(1_000_000))

    def on_signal(signum: int, frame: FrameType | None) -> None:
        dump(folder, next(dumps))

    signal.signal(signal.SIGUSR1, on_signal)
    asyncio.run(worker.main())


if __name__ == "__main__":
    if sys.argv[1:2] == ["compare"]:  # python -m bench.traced_worker compare DIR 0 2
        print(compare(Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])))
    else:
        main()
