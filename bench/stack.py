"""The product's processes for the benchmarks, started as `make run` starts them (issue 7).

`running_stack()` starts, on free loopback ports and in a fresh data folder:

- the Temporal dev server with `make run`'s configuration (`cashback.run.start_temporal`: a
  SQLite file with WAL pragmas, the claim search attributes, the Web UI);
- the local mail server (`cashback.local_mail`, keeping .eml files) in a process of its own;
- optionally moto's S3 server (`invoices="s3"`), the bucket made;
- the claim worker (`python worker.py`) and the API (`uvicorn api.main:app`), each a process of
  its own configured through `CASHBACK_*` variables only, as in production;

and migrates the database. Every process is stopped when the block ends, even on failure.
`machine()` describes the machine every script prints; `rss_bytes()` reads a process's resident
memory from /proc.

    run(main())                                # in `__main__`: SIGTERM/SIGINT stop the stack
    async def main() -> None:
        print(f"machine: {machine()}")
        async with running_stack(invoices="local") as stack:  # worker=, api=, mail=, env=
            client = await stack.client()      # the program's (encrypted) data converter
            database = stack.database()        # the database the API and the worker use
            stack.settings, stack.api_url, stack.temporal_address, stack.data_dir
            stack.rss("worker"), stack.pid("api"), cpu_seconds(stack.pid("worker"))
            with stack.worker_paused(): ...    # SIGSTOP the worker while something is timed
            stack.restart_worker(max_cached_workflows=500)
            await stack.wait_worker()

`bench/seed.py` seeds the program (operator, resellers with bearer tokens, an offer, licensing
records, claim rows in bulk); `bench/load.py` has the load shapes (closed and open loop),
percentiles and the markdown tables. Run `python -m bench.stack` to print the machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import random
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Literal

import temporalio
from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from temporalio.client import Client

from cashback.config import Settings
from cashback.db import Database, make_engine, upgrade_to_head
from cashback.run import start_temporal
from cashback.temporal import connect
from cashback.wiring import data_converter

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TEMPORAL_CLI = BIN / "temporal"
HOST = "127.0.0.1"
S3_BUCKET = "cashback-invoices"
S3_REGION: Final = "eu-central-1"
S3_KEY_ID, S3_SECRET = "bench", "bench-secret"  # moto accepts any credentials

InvoiceBackend = Literal["local", "s3"]
Part = Literal["temporal", "worker", "api", "mail", "s3"]


_PICK = random.SystemRandom()  # not the test run's seeded `random`: parallel processes differ


def free_port() -> int:
    """A loopback port nothing listens on now, for a server started next (the tests' and the
    benchmarks' stacks). Taken below the range the OS hands out as source ports of outgoing
    connections (`net.ipv4.ip_local_port_range`): a port the OS picks with `bind(0)` lies in
    that range, and between picking it and the server binding it any connection of any
    process may take it (seen in CI: uvicorn's "address already in use"). Random, so that
    parallel test processes seldom pick the same one, and checked free by binding it."""
    low = _ephemeral_ports_start()
    for _ in range(200):
        port = _PICK.randrange(10_000, low)
        with socket.socket() as probe:
            try:
                probe.bind((HOST, port))
            except OSError:
                continue
            return port
    with socket.socket() as probe:  # the low range is full: let the OS pick
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def _ephemeral_ports_start() -> int:
    """Where the OS's source ports begin (32768 on Linux by default); at least 20000."""
    try:
        start = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        start = 32768
    return max(start, 20_000)


# ---- the machine -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Machine:
    cpu: str
    cores: int
    ram_gib: float
    python: str
    temporalio: str
    server: str
    date: str
    load: str

    def __str__(self) -> str:
        return (
            f"{self.cpu}, {self.cores} cores, {self.ram_gib:.0f} GiB RAM, {platform.system()} "
            f"{platform.release()}; Python {self.python}, temporalio {self.temporalio}, "
            f"{self.server}; {self.date}; load average before the run {self.load}"
        )


def machine() -> Machine:
    """What the figures were taken on: every script prints it above its table."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram_kib = 0
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram_kib = int(line.split()[1])
    try:
        version = subprocess.run(
            [str(TEMPORAL_CLI), "--version"], capture_output=True, text=True, timeout=30
        ).stdout.strip()
        # "temporal version 1.9.1 (Server 1.32.0, UI 2.54.1)"
        server = version.replace("temporal version", "temporal CLI").strip()
    except (OSError, subprocess.TimeoutExpired):
        server = "temporal CLI unknown"
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    return Machine(
        cpu=cpu,
        cores=os.cpu_count() or 0,
        ram_gib=ram_kib / 1024 / 1024,
        python=platform.python_version(),
        temporalio=temporalio.__version__,
        server=server,
        date=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        load=load,
    )


def rss_bytes(pid: int) -> int:
    """Resident memory of process `pid` (VmRSS in /proc); 0 when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time process `pid` has used so far (/proc/<pid>/stat)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def children_of(pid: int) -> list[int]:
    """The processes whose parent is `pid` (/proc/<pid>/stat of every process)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if parent == pid:
            found.append(int(stat.parent.name))
    return found


# ---- the stack ---------------------------------------------------------------------------------


@dataclass
class Stack:
    """The product's processes and how to reach them. Built by `running_stack`."""

    data_dir: Path
    invoices: InvoiceBackend = "local"
    max_cached_workflows: int | None = None
    api_processes: int = 1  # uvicorn --workers: a supervisor and this many API processes
    extra_env: Mapping[str, str] = field(default_factory=dict)
    heap_dir: Path | None = None  # the worker traced by `bench.traced_worker`, dumping here
    temporal_port: int = field(default_factory=free_port)
    ui_port: int = field(default_factory=free_port)
    api_port: int = field(default_factory=free_port)
    smtp_port: int = field(default_factory=free_port)
    s3_port: int = field(default_factory=free_port)
    processes: dict[Part, subprocess.Popen[bytes]] = field(default_factory=dict)
    more_workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _database: Database | None = None
    _client: Client | None = None
    _settings: tuple[tuple[tuple[str, str], ...], Settings] | None = None

    @property
    def api_url(self) -> str:
        return f"http://{HOST}:{self.api_port}"

    @property
    def temporal_address(self) -> str:
        return f"{HOST}:{self.temporal_port}"

    @property
    def s3_url(self) -> str:
        return f"http://{HOST}:{self.s3_port}"

    @property
    def env(self) -> dict[str, str]:
        """The environment of the worker and the API: their whole configuration."""
        env = {key: value for key, value in os.environ.items() if not key.startswith("CASHBACK_")}
        env |= {
            "CASHBACK_DATA_DIR": str(self.data_dir),
            "CASHBACK_DEMO_DATA": "false",
            "CASHBACK_TEMPORAL_ADDRESS": self.temporal_address,
            "CASHBACK_SMTP_HOST": HOST,
            "CASHBACK_SMTP_PORT": str(self.smtp_port),
            "CASHBACK_PUBLIC_BASE_URL": self.api_url,
        }
        if self.invoices == "s3":
            env |= {
                "CASHBACK_INVOICE_BACKEND": "s3",
                "CASHBACK_S3_ENDPOINT_URL": self.s3_url,
                "CASHBACK_S3_BUCKET": S3_BUCKET,
                "CASHBACK_S3_REGION": S3_REGION,
                "CASHBACK_S3_ACCESS_KEY_ID": S3_KEY_ID,
                "CASHBACK_S3_SECRET_ACCESS_KEY": S3_SECRET,
            }
        if self.max_cached_workflows is not None:
            env["CASHBACK_WORKER_MAX_CACHED_WORKFLOWS"] = str(self.max_cached_workflows)
        if self.heap_dir is not None:
            env["CASHBACK_BENCH_HEAP_DIR"] = str(self.heap_dir)
        return env | dict(self.extra_env)

    @property
    def settings(self) -> Settings:
        """The settings the worker and the API read from `env`, read the same way here (once
        per distinct environment: reading swaps this process's os.environ for a moment)."""
        env = self.env
        key = tuple(sorted(env.items()))
        if self._settings is None or self._settings[0] != key:
            saved = dict(os.environ)
            try:
                os.environ.clear()
                os.environ.update(env)
                self._settings = (key, Settings())
            finally:
                os.environ.clear()
                os.environ.update(saved)
        return self._settings[1]

    def database(self) -> Database:
        """The program's database (the one the API and the worker use), opened once."""
        if self._database is None:
            self._database = Database.from_url(self.settings.resolved_database_url)
        return self._database

    async def client(self) -> Client:
        """A Temporal client speaking the program's encrypted data converter, opened once."""
        if self._client is None:
            settings = self.settings
            self._client = await connect(
                settings.temporal_address, settings.temporal_namespace, data_converter(settings)
            )
        return self._client

    def pid(self, part: Part) -> int:
        return self.processes[part].pid

    def rss(self, part: Part) -> int:
        """Resident memory of one of the stack's processes, in bytes."""
        return rss_bytes(self.pid(part))

    # -- starting the parts --

    def start_temporal(self) -> None:
        settings = self.settings
        self.processes["temporal"] = start_temporal(
            settings, HOST, self.temporal_port, self.ui_port, self.api_port
        )

    def start_mail(self) -> None:
        self.processes["mail"] = self._spawn(
            "mail", [sys.executable, "-m", "bench.stack", "mail", str(self.data_dir / "mail"),
                     str(self.smtp_port)],
        )  # fmt: skip

    def start_s3(self) -> None:
        self.processes["s3"] = self._spawn(
            "s3", [str(BIN / "moto_server"), "-H", HOST, "-p", str(self.s3_port)]
        )

    def start_worker(self) -> None:
        if self.heap_dir is None:
            args = [sys.executable, str(ROOT / "worker.py")]
        else:
            args = [sys.executable, "-m", "bench.traced_worker"]
        self.processes["worker"] = self._spawn("worker", args)

    async def dump_worker_heap(self, within: float = 300) -> dict[str, object]:
        """The traced worker's heap (`bench.traced_worker`): dumped into `heap_dir` on SIGUSR1,
        its figures returned."""
        if self.heap_dir is None:
            raise RuntimeError("the worker is not traced: start the stack with heap_dir=")
        number = len(list(self.heap_dir.glob("heap-*.json")))
        os.kill(self.pid("worker"), signal.SIGUSR1)
        figures = self.heap_dir / f"heap-{number}.json"
        deadline = time.monotonic() + within
        while not figures.exists():
            if time.monotonic() > deadline:
                raise TimeoutError(f"the worker wrote no {figures} within {within:.0f} s")
            await asyncio.sleep(0.5)
        result: dict[str, object] = json.loads(figures.read_text())
        return result

    def worker_processes(self) -> list[subprocess.Popen[bytes]]:
        """Every claim worker process running."""
        first = [self.processes["worker"]] if "worker" in self.processes else []
        return first + self.more_workers

    def set_worker_processes(self, count: int) -> None:
        """`count` claim worker processes on the task queue: `worker` and `count - 1` more,
        started or stopped (the claims go on)."""
        while len(self.more_workers) < count - 1:
            number = len(self.more_workers) + 2
            self.more_workers.append(
                self._spawn(f"worker-{number}", [sys.executable, str(ROOT / "worker.py")])
            )
        while len(self.more_workers) > max(count - 1, 0):
            _stop(self.more_workers.pop())

    def start_api(self) -> None:
        workers = ["--workers", str(self.api_processes)] if self.api_processes > 1 else []
        self.processes["api"] = self._spawn(
            "api", [sys.executable, "-m", "uvicorn", "api.main:app", "--host", HOST,
                    "--port", str(self.api_port), "--log-level", "warning", *workers],
        )  # fmt: skip

    def api_cpu_seconds(self) -> float:
        """CPU time of the API so far: its process and, with several, the processes uvicorn
        started for it (`api_processes`)."""
        api = self.pid("api")
        return cpu_seconds(api) + sum(cpu_seconds(child) for child in children_of(api))

    def stop(self, part: Part) -> None:
        process = self.processes.pop(part, None)
        if process is not None:
            _stop(process)

    @contextlib.contextmanager
    def worker_paused(self) -> Iterator[None]:
        """The worker process stopped (SIGSTOP) for the block, continued (SIGCONT) after: what
        is measured in the block does not share the CPU and the database with it."""
        worker = self.processes.get("worker")
        if worker is None:
            yield
            return
        os.kill(worker.pid, signal.SIGSTOP)
        try:
            yield
        finally:
            os.kill(worker.pid, signal.SIGCONT)

    def restart_worker(self, max_cached_workflows: int | None = None) -> None:
        """A new worker process (e.g. with another cache size); the claims go on."""
        self.stop("worker")
        if max_cached_workflows is not None:
            self.max_cached_workflows = max_cached_workflows
        self.start_worker()

    def _spawn(self, part: str, args: list[str]) -> subprocess.Popen[bytes]:
        log = (self.data_dir / f"{part}.log").open("ab")
        try:
            return subprocess.Popen(
                args, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,  # a process group of its own: stopped as a whole
            )  # fmt: skip
        finally:
            log.close()

    # -- waiting for the parts --

    async def wait_ready(self, within: float = 120) -> None:
        """Wait until every started part answers (the API's /readyz: database and Temporal)."""
        deadline = time.monotonic() + within
        if "mail" in self.processes:
            await self._wait(self._answers_smtp, "the mail server", deadline)
        if "s3" in self.processes:
            await self._wait(self._answers_s3, "moto's S3 server", deadline)
            self._make_bucket()
        if "api" in self.processes:
            await self._wait(self._api_ready, "the API", deadline)
        if "worker" in self.processes:
            await self.wait_worker(deadline - time.monotonic())

    async def wait_worker(self, within: float = 120) -> None:
        """Wait until the stack's worker (or, without one, any worker) polls the claim task
        queue."""
        client = await self.client()
        worker = self.processes.get("worker")
        queue = self.settings.task_queue
        deadline = time.monotonic() + within

        async def polled() -> bool:
            from temporalio.api.enums.v1 import TaskQueueType
            from temporalio.api.taskqueue.v1 import TaskQueue
            from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest

            answer = await client.workflow_service.describe_task_queue(
                DescribeTaskQueueRequest(
                    namespace=client.namespace,
                    task_queue=TaskQueue(name=queue),
                    task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
                )
            )
            # The SDK's worker identity is "<pid>@<host>": the pollers of a stopped worker are
            # still listed for a while, so look for this worker's own.
            mine = f"{worker.pid}@" if worker is not None else ""
            return any(poller.identity.startswith(mine) for poller in answer.pollers)

        while not await polled():
            self._check_alive()
            if time.monotonic() > deadline:
                raise TimeoutError(f"no worker polls {queue} (see {self.data_dir}/worker.log)")
            await asyncio.sleep(0.2)

    async def _wait(self, ready: Callable[[], bool], what: str, deadline: float) -> None:
        while not await asyncio.to_thread(ready):
            self._check_alive()
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what} did not come up (logs in {self.data_dir})")
            await asyncio.sleep(0.2)

    def _check_alive(self) -> None:
        for part, process in self.processes.items():
            if process.poll() is not None:
                log = self.data_dir / f"{part}.log"
                tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
                raise RuntimeError(f"{part} exited with {process.returncode}:\n{tail}")

    def _answers_smtp(self) -> bool:
        with socket.socket() as probe:
            return probe.connect_ex((HOST, self.smtp_port)) == 0

    def _answers_s3(self) -> bool:
        with socket.socket() as probe:
            return probe.connect_ex((HOST, self.s3_port)) == 0

    def _api_ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.api_url}/readyz", timeout=5) as response:
                return bool(json.loads(response.read())["status"] == "ok")
        except (OSError, urllib.error.URLError, ValueError):
            return False

    def _make_bucket(self) -> None:
        import boto3

        s3 = boto3.client(
            "s3", endpoint_url=self.s3_url, region_name=S3_REGION,
            aws_access_key_id=S3_KEY_ID, aws_secret_access_key=S3_SECRET,
        )  # fmt: skip
        with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
            s3.create_bucket(
                Bucket=S3_BUCKET, CreateBucketConfiguration={"LocationConstraint": S3_REGION}
            )

    async def close(self) -> None:
        if self._database is not None:
            self._database.dispose()
        self.set_worker_processes(1)
        parts: tuple[Part, ...] = ("api", "worker", "mail", "s3", "temporal")
        for part in parts:
            self.stop(part)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the process (its group when it has one), SIGKILL after 15 s."""
    try:
        group = os.getpgid(process.pid) if process.poll() is None else None
    except ProcessLookupError:
        group = None
    own_group = group is not None and group == process.pid
    with contextlib.suppress(ProcessLookupError):
        if own_group:
            os.killpg(process.pid, signal.SIGTERM)
        else:
            process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            if own_group:
                os.killpg(process.pid, signal.SIGKILL)
            else:
                process.kill()
        process.wait(timeout=15)


@contextlib.asynccontextmanager
async def running_stack(
    data_dir: Path | None = None,
    *,
    worker: bool = True,
    api: bool = True,
    mail: bool = True,
    invoices: InvoiceBackend = "local",
    max_cached_workflows: int | None = None,
    env: Mapping[str, str] | None = None,
    heap_dir: Path | None = None,
    api_processes: int = 1,
) -> AsyncIterator[Stack]:
    """The stack, started and ready; stopped (and its temporary folder removed) on exit.

    `data_dir`: where the databases, invoices, mails and logs go (default: a fresh temporary
    folder, removed afterwards). `env`: more `CASHBACK_*` settings for the worker and the API
    (e.g. `{"CASHBACK_POLICY__RETURN_WINDOW_DAYS": "0"}`)."""
    with contextlib.ExitStack() as cleanup:
        if data_dir is None:
            data_dir = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="bench-")))
        data_dir.mkdir(parents=True, exist_ok=True)
        stack = Stack(
            data_dir=data_dir,
            invoices=invoices,
            max_cached_workflows=max_cached_workflows,
            api_processes=api_processes,
            extra_env=dict(env or {}),
            heap_dir=heap_dir,
        )
        try:
            stack.start_temporal()
            if mail:
                stack.start_mail()
            if invoices == "s3":
                stack.start_s3()
            upgrade_to_head(stack.settings.resolved_database_url)
            await _wait_for_client(stack)
            if worker:
                stack.start_worker()
            if api:
                stack.start_api()
            await stack.wait_ready()
            yield stack
        finally:
            await stack.close()


async def _wait_for_client(stack: Stack, seconds: float = 60) -> Client:
    deadline = time.monotonic() + seconds
    while True:
        try:
            return await stack.client()
        except RuntimeError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.25)


def run(main: Coroutine[Any, Any, None]) -> None:
    """`asyncio.run(main)` for a benchmark script: SIGTERM and SIGINT (even where a background
    job inherited SIGINT ignored) interrupt it, so `running_stack` still stops every process."""

    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, interrupt)
    try:
        asyncio.run(main)
    except KeyboardInterrupt:
        print("interrupted; every process of the stack was stopped", file=sys.stderr)
        sys.exit(130)


def _serve_mail(folder: str, port: str) -> None:
    """The mail process: `cashback.local_mail` until SIGTERM."""
    from cashback.local_mail import start_local_mail

    controller = start_local_mail(Path(folder), HOST, int(port))
    stopped = False

    def stop(_signum: int, _frame: object) -> None:
        nonlocal stopped
        stopped = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        while not stopped:
            time.sleep(0.2)
    finally:
        controller.stop()


if __name__ == "__main__":
    if sys.argv[1:2] == ["mail"]:
        _serve_mail(*sys.argv[2:4])
    else:
        print(machine())


POSTGRES: Final = os.environ.get(
    "CASHBACK_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
DatabaseBackend = Literal["sqlite", "postgres"]


@contextlib.contextmanager
def database_url(backend: DatabaseBackend) -> Iterator[URL]:
    """A fresh, empty program database: a SQLite file in a temporary folder, or a schema of its
    own on `CASHBACK_BENCH_POSTGRES_URL` (default: the local server), dropped afterwards."""
    if backend == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="bench-database-"))
        yield make_url(f"sqlite:///{folder / 'cashback.db'}")
        return
    server = make_url(POSTGRES)
    schema = f"bench_{secrets.token_hex(4)}"
    engine = make_engine(server)
    with engine.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield server.update_query_dict({"options": f"-csearch_path={schema}"})
    finally:
        with engine.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()
