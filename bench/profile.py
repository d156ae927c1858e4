"""Profile of intake and of the worker (issue 7): where the API's and the worker's time goes.

Starts the stack (`bench.stack`), submits claims with `POST /claims` (a 200 KiB PDF) at
`--concurrency` for `--seconds` while the claim worker takes them to their review wait, and
samples the API process and the worker process with py-spy (`py-spy record`, raw stacks; it
needs ptrace, which root has here). Prints, per process, the functions that were on the stack
most often: "self" counts the samples where the function itself ran, "total" those where it
was anywhere on the stack. Two modes, one after the other: `cpu` samples only the thread
holding the GIL (where the CPU goes), `wall` samples every thread, waiting ones too (fsync,
sockets, locks: where a request's time goes).

    python -m bench.profile [--seconds 20] [--concurrency 8] [--modes cpu wall] [--top 25]

With `--flamegraph DIR` py-spy writes flame graphs (SVG) instead of raw stacks, one per process
and mode, `DIR/profile-LABEL-PART-MODE.svg`, and the script prints the widest frames read
from them; issue 16's pictures (docs/performance.md) are a run of this on the code before and
after the change, under the same load:

    python -m bench.profile --modes cpu --seconds 20 --flamegraph docs/images --label after
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import html
import itertools
import marshal
import re
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.intake import RESELLERS
from bench.load import closed_loop, table
from bench.seed import claim_form, invoice_pdf, seed_program
from bench.stack import BIN, ROOT, machine, run, running_stack

PY_SPY = BIN / "py-spy"
MODE_TEXT = {
    "cpu": "threads holding the GIL only (where the CPU goes)",
    "wall": "every thread, waiting ones too (where a request's time goes), idle waits (the "
    "event loop's select, thread pools waiting for work) left out",
}
_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


@dataclass(frozen=True)
class Profile:
    samples: int
    self_counts: Counter[str]
    total_counts: Counter[str]


def _short(path: str) -> str:
    """A file path relative to the project or to site-packages."""
    for marker in ("site-packages/", "lib/python3"):
        if marker in path:
            tail = path.split(marker, 1)[1]
            return tail.split("/", 1)[1] if marker == "lib/python3" and "/" in tail else tail
    with contextlib.suppress(ValueError):
        return str(Path(path).resolve().relative_to(ROOT))
    return path


def _frame(text: str) -> str:
    """`function (file:line)` -> `function (file)`: lines of one function count together."""
    found = _FRAME.match(text.strip())
    if found is None:
        return text.strip()
    return f"{found['function']} ({_short(found['file'])})"


# On (nearly) every stack: the event loop, threads, the command line. Left out of the tables.
PLUMBING = (
    "(asyncio/", "(threading.py)", "(click/", "(<frozen runpy>)", "(uvicorn/main.py)",
    "(uvicorn/server.py)", "(uvicorn/_compat.py)", "(uvicorn/__main__.py)",
    "(concurrent/futures/thread.py)", "(anyio/_backends/_asyncio.py)", "(worker.py)",
    "(queue.py)",
)  # fmt: skip
# Where an idle thread waits: the event loop for I/O, a thread pool for work. In the wall
# profile these samples are left out, so that the rest is where requests spend their time.
IDLE = (
    "EpollSelector.select (selectors.py)",
    "Condition.wait (threading.py)",
    "_worker (concurrent/futures/thread.py)",
)


def parse_raw(text: str, *, drop_idle: bool = False) -> Profile:
    """py-spy's raw (collapsed stacks) output: `frame;frame;... count` per line."""
    self_counts: Counter[str] = Counter()
    total_counts: Counter[str] = Counter()
    samples = 0
    for line in text.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_frame(frame) for frame in stack.split(";")]
        frames = [f for f in frames if not f.startswith(("process ", "thread "))]
        if not frames or (drop_idle and frames[-1] in IDLE):
            continue
        samples += count
        self_counts[frames[-1]] += count
        for frame in set(frames):
            if not any(marker in frame for marker in PLUMBING):
                total_counts[frame] += count
    return Profile(samples, self_counts, total_counts)


def summary(name: str, profile: Profile, top: int) -> str:
    if not profile.samples:
        return f"{name}: no samples"
    rows = [
        [frame, 100 * profile.total_counts[frame] / profile.samples,
         100 * profile.self_counts[frame] / profile.samples]
        for frame, _ in profile.total_counts.most_common(top)
    ]  # fmt: skip
    by_self = [
        [frame, 100 * count / profile.samples]
        for frame, count in profile.self_counts.most_common(top)
    ]
    return (
        f"### {name}: {profile.samples} samples\n\n"
        + table(["function (file), on the stack", "total %", "self %"], rows)
        + "\n\n"
        + table(["function (file), running itself", "self %"], by_self)
    )


MODES = {
    # Only threads holding the GIL: where the Python CPU time goes.
    "cpu": ["--gil"],
    # Every thread, waiting or not: where a request's wall-clock time goes (fsync, locks, I/O).
    "wall": ["--idle"],
}


def record(
    pid: int, seconds: float, output: Path, rate: int, mode: str, output_format: str = "raw"
) -> subprocess.Popen[bytes]:
    args = [str(PY_SPY), "record", "--pid", str(pid), "--duration", str(int(seconds)),
            "--rate", str(rate), "--format", output_format, "--output", str(output),
            "--nonblocking", *MODES[mode]]  # fmt: skip
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


# A box of py-spy's flame graph: its frame `function (file:line)` and the samples it spans,
# `fg:x` (the first) and `fg:w` (how many).
_SVG_BOX = re.compile(
    r"<title>(?P<frame>.*?) \([\d,]+ samples?, [\d.]+%\)</title>"
    r'<rect [^>]*?fg:x="(?P<x>\d+)" fg:w="(?P<w>\d+)"'
)
_SVG_TOTAL = re.compile(r'total_samples="(?P<samples>\d+)"')

# Wide in every flame graph and saying nothing: the ASGI middleware every request passes
# through, the import machinery (the sandbox's imports show as the workflow module's frames).
FLAME_PLUMBING = (
    "(uvicorn/", "(starlette/middleware/", "(fastapi/telemetry/", "(fastapi/_body_limit.py)",
    "(fastapi/applications.py)", "(starlette/applications.py)", "LatencyByRoute.",
    "(<frozen importlib._bootstrap", "ExceptionMiddleware.", "AsyncExitStackMiddleware.",
)  # fmt: skip


def flamegraph_totals(svg: str) -> tuple[int, Counter[str]]:
    """The samples of a py-spy flame graph and, per function, how many had it anywhere on
    the stack (the union of its boxes: a recursive or repeated frame counts once)."""
    found = _SVG_TOTAL.search(svg)
    samples = int(found["samples"]) if found else 0
    spans: dict[str, list[tuple[int, int]]] = {}
    for box in _SVG_BOX.finditer(html.unescape(svg)):
        if box["frame"] == "all":
            continue
        start = int(box["x"])
        spans.setdefault(_frame(box["frame"]), []).append((start, start + int(box["w"])))
    totals: Counter[str] = Counter()
    for frame, intervals in spans.items():
        covered, reach = 0, -1
        for start, end in sorted(intervals):
            if end > reach:
                covered += end - max(start, reach)
                reach = end
        totals[frame] = covered
    return samples, totals


def flamegraph_summary(name: str, svg: str, top: int) -> str:
    """The functions most often on the stack in a py-spy flame graph, the plumbing left out."""
    samples, totals = flamegraph_totals(svg)
    if not samples:
        return f"{name}: no samples"
    shown = [
        (frame, count)
        for frame, count in totals.most_common()
        if not frame.startswith(("process ", "thread "))
        and not any(marker in frame for marker in PLUMBING + FLAME_PLUMBING)
    ]
    rows = [[frame, 100 * count / samples] for frame, count in shown[:top]]
    return f"### {name}: {samples} samples\n\n" + table(
        ["function (file), on the stack", "total %"], rows
    )


def workflow_module_load(repeat: int = 20) -> str:
    """The sandbox imports the workflow module afresh for every workflow it loads (a new claim,
    or one evicted from the cache that wakes up or is queried): from cached bytecode, or
    compiled from source where none is cached (PYTHONDONTWRITEBYTECODE=1). What the SDK alone
    would pay per workflow loaded: the worker loads the code once per process since issue 16
    (`cashback.temporal.share_workflow_code`). Milliseconds of each, here."""
    import workflows.claim

    path = Path(workflows.claim.__file__ or "")
    source = path.read_bytes()
    started = time.perf_counter()
    for _ in range(repeat):
        code = compile(source, str(path), "exec")
    compiled = (time.perf_counter() - started) * 1000 / repeat
    data = marshal.dumps(code)
    started = time.perf_counter()
    for _ in range(repeat * 10):
        marshal.loads(data)
    loaded = (time.perf_counter() - started) * 1000 / (repeat * 10)
    return table(
        ["workflows/claim.py, once per workflow loaded", "ms"],
        [["compiled from source", compiled], ["loaded from cached bytecode", loaded]],
    )


async def main(options: argparse.Namespace) -> None:
    print(f"machine: {machine()}", flush=True)
    print("\n" + workflow_module_load(), flush=True)
    if not PY_SPY.exists():
        sys.exit(f"py-spy is not installed in {BIN}: pip install -e '.[dev]'")
    invoice = invoice_pdf(options.invoice_kib * 1024)
    async with running_stack() as stack:
        # Agreements enough for 150 claims/s: none is written while the profile runs.
        program = seed_program(
            stack.database(), resellers=RESELLERS, agreements=int(options.seconds * 150) + 100
        )
        agreements = itertools.count()
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
        async with httpx.AsyncClient(base_url=stack.api_url, timeout=60, limits=limits) as http:

            async def submit(_: int) -> None:
                index = next(agreements)
                body, content_type = claim_form(program, index, invoice)
                answer = await http.post(
                    "/claims",
                    content=body,
                    headers=program.reseller_of(index).headers
                    | {"Content-Type": content_type, "Idempotency-Key": f"profile-{index}"},
                )
                if answer.status_code != 201:
                    raise RuntimeError(f"{answer.status_code}: {answer.text[:200]}")

            await closed_loop(4, 2, submit)  # warm up: imports, connections, caches
            for mode in options.modes:
                if options.flamegraph:
                    options.flamegraph.mkdir(parents=True, exist_ok=True)
                    outputs = {
                        part: options.flamegraph / f"profile-{options.label}-{part}-{mode}.svg"
                        for part in options.parts
                    }
                else:
                    outputs = {
                        part: stack.data_dir / f"py-spy-{mode}-{part}.txt" for part in options.parts
                    }
                output_format = "flamegraph" if options.flamegraph else "raw"
                spies = {
                    part: record(
                        stack.pid(part), options.seconds, output, options.rate, mode, output_format
                    )
                    for part, output in outputs.items()
                }
                deadline = time.monotonic() + options.seconds
                submitted = 0
                while time.monotonic() < deadline:
                    run = await closed_loop(options.concurrency * 4, options.concurrency, submit)
                    submitted += run.completed
                for part, spy in spies.items():
                    _, errors = await asyncio.to_thread(spy.communicate)
                    if spy.returncode != 0:
                        print(f"py-spy on the {part} failed: {errors.decode(errors='replace')}")
                print(
                    f"\n## {mode}: {submitted} claims submitted in {options.seconds:.0f} s at "
                    f"concurrency {options.concurrency}, the worker taking them on meanwhile; "
                    f"py-spy at {options.rate} Hz, {MODE_TEXT[mode]}\n",
                    flush=True,
                )
                for part, output in outputs.items():
                    text = output.read_text() if output.exists() else ""
                    name = f"{part} process, {mode}"
                    if options.flamegraph:
                        size = output.stat().st_size // 1024 if output.exists() else 0
                        print(f"{output} ({size} KiB)\n", flush=True)
                        print(flamegraph_summary(name, text, options.top) + "\n", flush=True)
                        continue
                    profile = parse_raw(text, drop_idle=mode == "wall")
                    print(summary(name, profile, options.top) + "\n", flush=True)
                    if options.keep:
                        options.keep.mkdir(parents=True, exist_ok=True)
                        (options.keep / output.name).write_text(text)


def parser() -> argparse.ArgumentParser:
    parse = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parse.add_argument("--seconds", type=float, default=20)
    parse.add_argument("--concurrency", type=int, default=8)
    parse.add_argument("--invoice-kib", type=int, default=200)
    parse.add_argument("--rate", type=int, default=100, help="py-spy samples per second")
    parse.add_argument(
        "--modes", nargs="+", choices=sorted(MODES), default=["cpu", "wall"],
        help="cpu: threads holding the GIL; wall: every thread, waiting ones too",
    )  # fmt: skip
    parse.add_argument("--parts", nargs="+", choices=["api", "worker"], default=["api", "worker"])
    parse.add_argument("--top", type=int, default=20)
    parse.add_argument("--keep", type=Path, help="a folder to keep py-spy's raw stacks in")
    parse.add_argument(
        "--flamegraph", type=Path, metavar="DIR",
        help="write py-spy's flame graphs (SVG) into DIR instead of printing the raw tables",
    )  # fmt: skip
    parse.add_argument(
        "--label", default="after", help="names the flame graphs: profile-LABEL-PART-MODE.svg"
    )
    return parse


if __name__ == "__main__":
    run(main(parser().parse_args()))
