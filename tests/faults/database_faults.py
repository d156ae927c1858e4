"""Database faults for tests, injected into a real `cashback.db.Database` on a real server.

Three faults, each as the product would meet it:

- `Fault.BEFORE_COMMIT` (a): the COMMIT fails; the transaction's work is rolled back.
- `Fault.AFTER_COMMIT` (b): the COMMIT happens, then the caller gets an error, as when the
  connection dies while the server's answer is on its way: the caller believes it failed.
- `Fault.OUTAGE` (c): the database cannot be reached for a while. PostgreSQL: a real TCP proxy
  (`DatabaseProxy`) in front of the server is cut right before the COMMIT (every open
  connection reset, new ones refused until it is restored), so the COMMIT fails for real.
  SQLite, which has no server to lose: another connection holds the file's write lock
  (BEGIN EXCLUSIVE) from right before the transaction begins, so it fails with "database is
  locked" once the engine's busy timeout ends.

(a) and (b) wrap the engine's dialect's `do_commit` (this engine only) and raise the driver's
own exception class (`psycopg.OperationalError`, `sqlite3.OperationalError`), so SQLAlchemy
wraps, classifies and cleans up exactly as for a real failure.

`FaultInjector(database)` counts the database's write transactions (those of
`Database.transaction()`, on any thread) and faults the ones planned: `at(k, fault)` the k-th
write transaction from now, or `at_random(rate, seed)` a seeded share of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import sqlite3
import struct
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

import psycopg
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection

from cashback.db import Database
from cashback.db.engine import SQLITE_BEGIN_IMMEDIATE


class Fault(StrEnum):
    BEFORE_COMMIT = "before_commit"  # (a) the COMMIT fails, nothing is stored
    AFTER_COMMIT = "after_commit"  # (b) stored, but the caller gets an error
    OUTAGE = "outage"  # (c) the database is unreachable for a while


# ---- (c) for PostgreSQL: a TCP proxy that can be cut ------------------------------------------


class DatabaseProxy:
    """A TCP proxy on 127.0.0.1 (a free port) in front of a database server, run on a thread of
    its own. `cut()` resets every open connection and refuses (resets) new ones until
    `restore()`; the port stays bound throughout, so no other process can take it."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self._upstream = (upstream_host, upstream_port)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()
        self._down = False
        self.accepted = 0
        self.refused = 0
        self.reset = 0
        self.cuts = 0

    def start(self) -> DatabaseProxy:
        self._thread.start()
        self._server = self._call(self._listen())
        return self

    @property
    def port(self) -> int:
        assert self._server is not None, "start the proxy first"
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    @property
    def is_down(self) -> bool:
        return self._down

    def url(self, url: URL) -> URL:
        """`url` pointed at the proxy instead of the server."""
        return url.set(host="127.0.0.1", port=self.port)

    def cut(self) -> None:
        """The database goes away: open connections are reset, new ones refused."""
        self._call(self._cut())

    def restore(self) -> None:
        """The database is back: new connections go through again."""
        self._down = False

    def close(self) -> None:
        if self._server is not None:
            self._call(self._close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def __enter__(self) -> DatabaseProxy:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.close()

    def _call(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=30)

    async def _listen(self) -> asyncio.Server:
        return await asyncio.start_server(self._serve, "127.0.0.1", 0)

    async def _cut(self) -> None:
        self._down = True
        self.cuts += 1
        for writer in list(self._open):
            _reset(writer)
            self.reset += 1
        self._open.clear()

    async def _close(self) -> None:
        await self._cut()
        assert self._server is not None
        self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._down:
            self.refused += 1
            _reset(writer)
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._upstream)
        except OSError:
            _reset(writer)
            return
        if self._down:  # cut while connecting
            _reset(writer)
            _reset(up_writer)
            return
        self.accepted += 1
        self._open.update((writer, up_writer))
        try:
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            for end in (writer, up_writer):
                self._open.discard(end)
                _reset(end)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, ConnectionError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    with contextlib.suppress(OSError, RuntimeError):
        writer.close()


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP reset (SO_LINGER 0), as a dead or refusing peer is seen."""
    sock = writer.get_extra_info("socket")
    with contextlib.suppress(OSError):
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


# ---- outages ----------------------------------------------------------------------------------


class Outage(Protocol):
    """The database unreachable from `begin()` until `end()`."""

    at_commit: bool  # True: starts right before a COMMIT; False: before the transaction begins

    def begin(self) -> None: ...

    def end(self) -> None: ...


@dataclass
class ProxyOutage:
    """PostgreSQL: the proxy is cut (connections reset, new ones refused)."""

    proxy: DatabaseProxy
    at_commit: bool = True

    def begin(self) -> None:
        self.proxy.cut()

    def end(self) -> None:
        self.proxy.restore()


@dataclass
class SqliteLockOutage:
    """SQLite: another connection holds the write lock, so every writer fails with "database is
    locked" after its busy timeout. Readers still read (WAL)."""

    path: Path
    at_commit: bool = False
    _holder: sqlite3.Connection | None = None

    def begin(self) -> None:
        holder = sqlite3.connect(
            self.path, timeout=10, isolation_level=None, check_same_thread=False
        )
        holder.execute("BEGIN EXCLUSIVE")
        self._holder = holder

    def end(self) -> None:
        holder, self._holder = self._holder, None
        if holder is not None:
            holder.execute("ROLLBACK")
            holder.close()


# ---- the injector -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Injection:
    transaction: int  # the database's write transaction it hit, counted from 1
    fault: Fault


@dataclass
class _Plan:
    at: dict[int, Fault] = field(default_factory=dict)
    rate: float = 0.0
    faults: Sequence[Fault] = ()
    rng: random.Random = field(default_factory=random.Random)


class FaultInjector:
    """Faults in the write transactions of one `Database` (see the module's docstring).

    `outage` says what (c) does; `outage_seconds`, when given, ends each outage by itself after
    that long (otherwise the test calls `end_outage()`). Use as a context manager, or call
    `uninstall()`."""

    def __init__(
        self,
        database: Database,
        outage: Outage | None = None,
        *,
        outage_seconds: float | None = None,
    ) -> None:
        self._engine = database.engine
        self._dialect = database.engine.dialect
        self._driver_error: type[Exception] = (
            psycopg.OperationalError
            if database.dialect == "postgresql"
            else sqlite3.OperationalError
        )
        self._outage = outage
        self._outage_seconds = outage_seconds
        self._lock = threading.Lock()
        self._local = threading.local()
        self._plan = _Plan()
        self._count = 0
        self._outage_timer: threading.Timer | None = None
        self._outage_lock = threading.Lock()
        self.outages = 0
        self.outage_over = threading.Event()
        self.outage_over.set()
        self.injected: list[Injection] = []
        self._original_commit: Callable[[Any], None] = self._dialect.do_commit
        self._dialect.do_commit = self._do_commit  # type: ignore[method-assign]
        event.listen(self._engine, "engine_connect", self._on_connect)

    # -- planning

    def at(self, transaction: int, fault: Fault) -> None:
        """Fault the `transaction`-th write transaction from now (1: the next one)."""
        with self._lock:
            self._plan.at[self._count + transaction] = fault

    def at_random(self, rate: float, seed: int, faults: Sequence[Fault] = tuple(Fault)) -> None:
        """Fault each later write transaction with probability `rate`, the fault drawn from
        `faults`; seeded, so a run can be repeated."""
        with self._lock:
            self._plan.rate = rate
            self._plan.faults = tuple(faults)
            self._plan.rng = random.Random(seed)

    def clear(self) -> None:
        with self._lock:
            self._plan = _Plan()

    @property
    def write_transactions(self) -> int:
        """Write transactions begun so far."""
        with self._lock:
            return self._count

    @contextlib.contextmanager
    def counting(self) -> Iterator[list[int]]:
        """Yields a list that holds, once the block ends, the write transactions it began."""
        counted: list[int] = []
        before = self.write_transactions
        try:
            yield counted
        finally:
            counted.append(self.write_transactions - before)

    def end_outage(self) -> None:
        """The database is back (an outage in progress ends now)."""
        with self._outage_lock:
            if self._outage_timer is not None:
                self._outage_timer.cancel()
                self._outage_timer = None
            if self._outage is not None and not self.outage_over.is_set():
                self._outage.end()
            self.outage_over.set()

    def uninstall(self) -> None:
        self.end_outage()
        event.remove(self._engine, "engine_connect", self._on_connect)
        vars(self._dialect).pop("do_commit", None)  # the class's method again

    def __enter__(self) -> FaultInjector:
        return self

    def __exit__(self, *_: object) -> None:
        self.uninstall()

    # -- the hooks

    def _on_connect(self, connection: Connection) -> None:
        # A session takes a connection of its own for each transaction, before BEGIN (which a
        # "begin" listener would see only after the SQLite hook has issued BEGIN IMMEDIATE).
        if not connection.get_execution_options().get(SQLITE_BEGIN_IMMEDIATE, False):
            self._local.fault = None  # a reading transaction: never faulted, never counted
            return
        with self._lock:
            self._count += 1
            fault = self._plan.at.pop(self._count, None)
            if fault is None and self._plan.rate > 0 and self._plan.rng.random() < self._plan.rate:
                fault = self._plan.rng.choice(self._plan.faults)
            if fault is Fault.OUTAGE and self._outage is None:
                fault = None
            if fault is not None:
                self.injected.append(Injection(self._count, fault))
        self._local.fault = fault
        if fault is Fault.OUTAGE and self._outage is not None and not self._outage.at_commit:
            self._start_outage()

    def _do_commit(self, dbapi_connection: Any) -> None:
        fault: Fault | None = getattr(self._local, "fault", None)
        self._local.fault = None
        if fault is Fault.BEFORE_COMMIT:
            raise self._driver_error("injected fault: the connection was lost before COMMIT")
        if fault is Fault.OUTAGE and self._outage is not None and self._outage.at_commit:
            self._start_outage()  # the COMMIT below meets the outage for real
        self._original_commit(dbapi_connection)
        if fault is Fault.AFTER_COMMIT:
            raise self._driver_error("injected fault: the connection was lost after COMMIT")

    def _start_outage(self) -> None:
        assert self._outage is not None
        with self._outage_lock:
            if not self.outage_over.is_set():
                return  # already down
            self.outage_over.clear()
            self.outages += 1
            try:
                self._outage.begin()
            except BaseException:
                self.outage_over.set()
                raise
            if self._outage_seconds is not None:
                self._outage_timer = threading.Timer(self._outage_seconds, self.end_outage)
                self._outage_timer.daemon = True
                self._outage_timer.start()
