"""API CPU per claim (issue 16, part 2): the API process's CPU time per `POST /claims`.

On the stack `bench.stack` starts, **without the claim worker** (the workflows are started and
wait in the Temporal server, so only the API's own work and the start call are counted), N
claims with a PDF invoice of `--invoice-kib` KiB are submitted at low concurrency, in
`--rounds` rounds after `--warmup` claims that are not counted (imports, caches, the first
connections). For each round: the API process's user + system CPU time from /proc over the
round's claims, per claim, and the load average; then the median and the spread. The API's
CPU is counted, not the wall time, so other work on the machine moves the figure little (it
still does through caches and frequency).

`--compare DIR` starts a second API process running the code in DIR (e.g. `git archive` of
the commit before a change, unpacked) on the same stack and alternates the two APIs' rounds,
so both are measured under the same load: on a shared machine the CPU per claim of one API
moves by up to half between runs minutes apart, much more than most single changes.

`--profile FILE` runs py-spy (`record --format speedscope`, GIL holder only, no idle samples)
on the API process through one more round and writes the profile; `--top` prints py-spy's
`top`-style table of it instead (self and total samples per function).

    python -m bench.api_cpu [--claims 300] [--rounds 3] [--concurrency 2] [--invoice-kib 200]
                            [--compare DIR] [--profile FILE [--format speedscope]]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.load import closed_loop
from bench.seed import Program, add_agreements, invoice_pdf, post_claim, seed_program
from bench.stack import HOST, Stack, free_port, machine, run, running_stack

RESELLERS = 10


def cpu_split(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds process `pid` has used so far (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / ticks, int(fields[12]) / ticks


@dataclass(frozen=True)
class Round:
    user_ms: float  # API process, user CPU per claim
    system_ms: float  # API process, kernel CPU per claim (file writes, fsync, sockets)
    wall_ms: float  # the round's wall time per claim
    load: float  # 1-minute load average at the round's start

    @property
    def cpu_ms(self) -> float:
        return self.user_ms + self.system_ms


class Submitter:
    """Claims to one API process (`pid`, reached through `http`); agreements handed out once
    from `agreements` (shared by every submitter of a run: D1)."""

    def __init__(
        self,
        stack: Stack,
        program: Program,
        http: httpx.AsyncClient,
        pid: int,
        invoice: bytes,
        agreements: Iterator[int],
    ) -> None:
        self.stack = stack
        self.program = program
        self.http = http
        self.pid = pid
        self.invoice = invoice
        self.next_agreement = agreements

    def agreements(self, count: int) -> list[int]:
        indexes = [next(self.next_agreement) for _ in range(count)]
        add_agreements(self.stack.database(), self.program, indexes)
        return indexes

    async def submit(self, index: int) -> None:
        await post_claim(self.http, self.program, index, self.invoice, f"cpu-{index}")

    async def round(self, claims: int, concurrency: int) -> Round:
        indexes = self.agreements(claims)
        load = os.getloadavg()[0]
        user, system = cpu_split(self.pid)
        done = await closed_loop(claims, concurrency, lambda i: self.submit(indexes[i]))
        user_after, system_after = cpu_split(self.pid)
        if done.failures:
            raise RuntimeError(f"{len(done.failures)} failed, e.g. {done.failures[:2]}")
        per_claim = 1000 / claims
        return Round(
            (user_after - user) * per_claim,
            (system_after - system) * per_claim,
            done.elapsed * per_claim,
            load,
        )


def py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(found).exists():
        raise SystemExit("py-spy is not installed (pip install py-spy)")
    return found


def start_py_spy(pid: int, output: str, fmt: str) -> subprocess.Popen[bytes]:
    """py-spy sampling process `pid` (the GIL holder only: where its CPU goes) into `output`."""
    return subprocess.Popen(
        [py_spy(), "record", "--pid", str(pid), "--rate", "250", "--gil",
         "--format", fmt, "--output", output, "--nonblocking"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def start_api(stack: Stack, code: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A second API process running the code in `code` (e.g. a `git archive` of an earlier
    commit) on the same database, invoice store and Temporal server; and its URL."""
    port = free_port()
    log = (stack.data_dir / "api-compare.log").open("ab")
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "api.main:app", "--host", HOST,
             "--port", str(port), "--log-level", "warning"],
            cwd=code, env=stack.env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    finally:
        log.close()
    return process, f"http://{HOST}:{port}"


async def wait_ready(http: httpx.AsyncClient, within: float = 120) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if (await http.get("/readyz")).status_code == 200:
                return
        await asyncio.sleep(0.5)
    raise RuntimeError(f"the API at {http.base_url} did not get ready within {within:.0f} s")


def summary(name: str, rounds: list[Round]) -> str:
    cpu = [r.cpu_ms for r in rounds]
    user = [r.user_ms for r in rounds]
    system = [r.system_ms for r in rounds]
    return (
        f"| {name} | {len(rounds)} | {statistics.median(cpu):.2f} | {min(cpu):.2f} "
        f"| {max(cpu):.2f} | {statistics.median(user):.2f} | {statistics.median(system):.2f} |"
    )


async def main(options: argparse.Namespace) -> None:
    print(f"machine: {machine()}", flush=True)
    invoice = invoice_pdf(options.invoice_kib * 1024)
    limits = httpx.Limits(max_connections=50, max_keepalive_connections=50)
    async with contextlib.AsyncExitStack() as cleanup:
        stack = await cleanup.enter_async_context(running_stack(worker=False, mail=False))
        program = seed_program(stack.database(), resellers=RESELLERS)
        agreements = itertools.count(program.agreements)
        http = await cleanup.enter_async_context(
            httpx.AsyncClient(base_url=stack.api_url, timeout=60, limits=limits)
        )
        apis = {"this code": Submitter(stack, program, http, stack.pid("api"), invoice, agreements)}
        if options.compare:
            process, url = start_api(stack, Path(options.compare))
            cleanup.callback(stop_process, process)
            other = await cleanup.enter_async_context(
                httpx.AsyncClient(base_url=url, timeout=60, limits=limits)
            )
            await wait_ready(other)
            apis = {
                options.compare: Submitter(stack, program, other, process.pid, invoice, agreements)
            } | apis
        for submitter in apis.values():
            await submitter.round(options.warmup, options.concurrency)
        print(
            f"\nPOST /claims, {len(invoice) // 1024} KiB PDF, concurrency "
            f"{options.concurrency}, {options.claims} claims per round, no worker "
            f"(workflows wait in the server), {options.warmup} warm-up claims per API"
            + (", the APIs' rounds alternated" if len(apis) > 1 else "")
            + "\n\n| round | API | UTC | load (1 min) | API CPU ms/claim | user | system "
            "| wall ms/claim |\n| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: |",
            flush=True,
        )
        rounds: dict[str, list[Round]] = {name: [] for name in apis}
        for number in range(1, options.rounds + 1):
            for name, submitter in apis.items():
                done = await submitter.round(options.claims, options.concurrency)
                rounds[name].append(done)
                print(
                    f"| {number} | {name} | {time.strftime('%H:%M:%S', time.gmtime())} "
                    f"| {done.load:.1f} | {done.cpu_ms:.2f} | {done.user_ms:.2f} "
                    f"| {done.system_ms:.2f} | {done.wall_ms:.1f} |",
                    flush=True,
                )
        print(
            "\n| API | rounds | CPU ms/claim median | min | max | user median | system median |"
            "\n| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
            flush=True,
        )
        for name, done_rounds in rounds.items():
            print(summary(name, done_rounds), flush=True)
        if options.profile:
            this = apis["this code"]
            spy = start_py_spy(this.pid, options.profile, options.format)
            await asyncio.sleep(1.0)  # py-spy attaches
            await this.round(options.claims, options.concurrency)
            spy.send_signal(signal.SIGINT)  # py-spy writes the profile and exits
            await asyncio.to_thread(spy.wait, 60)
            print(f"\nprofile ({options.format}): {options.profile}", flush=True)


def stop_process(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def parser() -> argparse.ArgumentParser:
    parse = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parse.add_argument("--claims", type=int, default=300, help="claims per round")
    parse.add_argument("--rounds", type=int, default=3)
    parse.add_argument("--warmup", type=int, default=30)
    parse.add_argument("--concurrency", type=int, default=2)
    parse.add_argument("--invoice-kib", type=int, default=200)
    parse.add_argument(
        "--compare",
        metavar="DIR",
        help="a second API running the code in DIR (e.g. `git archive` of an earlier commit), "
        "its rounds alternated with this code's, on the same stack",
    )
    parse.add_argument("--profile", help="py-spy's profile of the API over one more round")
    parse.add_argument(
        "--format", choices=["speedscope", "raw", "flamegraph"], default="raw",
        help="py-spy's output format (raw: collapsed stacks, for counting)",
    )  # fmt: skip
    return parse


if __name__ == "__main__":
    run(main(parser().parse_args()))
