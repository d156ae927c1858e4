"""API CPU per claim (issue 16, part 2): the API process's CPU time per `POST /claims`.

On the stack `bench.stack` starts, **without the claim worker** (the workflows are started and
wait in the Temporal server, so only the API's own work and the start call are counted), N
claims with a PDF invoice of `--invoice-kib` KiB are submitted at low concurrency, in
`--rounds` rounds after `--warmup` claims that are not counted (imports, caches, the first
connections). For each round: the API process's user + system CPU time from /proc over the
round's claims, per claim, and the load average; then the median and the spread. The API's
CPU is counted, not the wall time, so other work on the machine moves the figure little (it
still does through caches and frequency).

`--profile FILE` runs py-spy (`record --format speedscope`, GIL holder only, no idle samples)
on the API process through one more round and writes the profile; `--top` prints py-spy's
`top`-style table of it instead (self and total samples per function).

    python -m bench.api_cpu [--claims 300] [--rounds 3] [--concurrency 2] [--invoice-kib 200]
                            [--profile api.speedscope.json]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.load import closed_loop
from bench.seed import Program, add_agreements, claim_form, invoice_pdf, seed_program
from bench.stack import Stack, machine, run, running_stack

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
    def __init__(self, stack: Stack, program: Program, http: httpx.AsyncClient, invoice: bytes):
        self.stack = stack
        self.program = program
        self.http = http
        self.invoice = invoice
        self.next_agreement = itertools.count(program.agreements)

    def agreements(self, count: int) -> list[int]:
        indexes = [next(self.next_agreement) for _ in range(count)]
        add_agreements(self.stack.database(), self.program, indexes)
        return indexes

    async def submit(self, index: int) -> None:
        body, content_type = claim_form(self.program, index, self.invoice)
        reseller = self.program.reseller_of(index)
        answer = await self.http.post(
            "/claims",
            content=body,
            headers=reseller.headers
            | {"Content-Type": content_type, "Idempotency-Key": f"cpu-{index}"},
        )
        if answer.status_code != 201:
            raise RuntimeError(f"POST /claims answered {answer.status_code}: {answer.text[:300]}")

    async def round(self, claims: int, concurrency: int) -> Round:
        indexes = self.agreements(claims)
        load = os.getloadavg()[0]
        pid = self.stack.pid("api")
        user, system = cpu_split(pid)
        done = await closed_loop(claims, concurrency, lambda i: self.submit(indexes[i]))
        user_after, system_after = cpu_split(pid)
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


async def main(options: argparse.Namespace) -> None:
    print(f"machine: {machine()}", flush=True)
    invoice = invoice_pdf(options.invoice_kib * 1024)
    async with running_stack(worker=False, mail=False) as stack:
        program = seed_program(stack.database(), resellers=RESELLERS)
        limits = httpx.Limits(max_connections=50, max_keepalive_connections=50)
        async with httpx.AsyncClient(base_url=stack.api_url, timeout=60, limits=limits) as http:
            submitter = Submitter(stack, program, http, invoice)
            await submitter.round(options.warmup, options.concurrency)
            print(
                f"\nPOST /claims, {len(invoice) // 1024} KiB PDF, concurrency "
                f"{options.concurrency}, {options.claims} claims per round, no worker "
                f"(workflows wait in the server), {options.warmup} warm-up claims\n\n"
                "| round | UTC | load (1 min) | API CPU ms/claim | user | system "
                "| wall ms/claim |\n"
                "| ---: | --- | ---: | ---: | ---: | ---: | ---: |",
                flush=True,
            )
            cpu = []
            for number in range(1, options.rounds + 1):
                done = await submitter.round(options.claims, options.concurrency)
                cpu.append(done.cpu_ms)
                print(
                    f"| {number} | {time.strftime('%H:%M:%S', time.gmtime())} | {done.load:.1f} "
                    f"| {done.cpu_ms:.2f} | {done.user_ms:.2f} | {done.system_ms:.2f} "
                    f"| {done.wall_ms:.1f} |",
                    flush=True,
                )
            print(
                f"\nAPI CPU ms/claim: median {statistics.median(cpu):.2f}, "
                f"min {min(cpu):.2f}, max {max(cpu):.2f}",
                flush=True,
            )
            if options.profile:
                spy = start_py_spy(stack.pid("api"), options.profile, options.format)
                await asyncio.sleep(1.0)  # py-spy attaches
                await submitter.round(options.claims, options.concurrency)
                spy.send_signal(2)  # SIGINT: py-spy writes the profile and exits
                spy.wait(timeout=60)
                print(f"profile ({options.format}): {options.profile}", flush=True)


def parser() -> argparse.ArgumentParser:
    parse = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parse.add_argument("--claims", type=int, default=300, help="claims per round")
    parse.add_argument("--rounds", type=int, default=3)
    parse.add_argument("--warmup", type=int, default=30)
    parse.add_argument("--concurrency", type=int, default=2)
    parse.add_argument("--invoice-kib", type=int, default=200)
    parse.add_argument("--profile", help="py-spy's profile of the API over one more round")
    parse.add_argument(
        "--format", choices=["speedscope", "raw", "flamegraph"], default="raw",
        help="py-spy's output format (raw: collapsed stacks, for counting)",
    )  # fmt: skip
    return parse


if __name__ == "__main__":
    run(main(parser().parse_args()))
