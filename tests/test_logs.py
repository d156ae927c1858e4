"""Issue 12: log lines fit for operations (cashback/logs.py). `CASHBACK_LOG_FORMAT=json` writes
one JSON object a line; every line about a claim names it; a transient activity failure is one
line without a traceback, an unexpected one keeps it. (tests/e2e/test_operations_logs.py
shows the worker's real lines when the bank answers TECH.)"""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import uvicorn

from activities.payments import TransientBankError
from cashback.config import LogFormat, Settings
from cashback.logs import UVICORN_LOGGERS, configure_logging

ACTIVITY = {"activity_type": "payments.pay", "attempt": 3, "workflow_id": "claim-c_42"}
FAILED = {"temporal_activity": ACTIVITY, "__temporal_error_identifier": "ActivityFailure"}


@contextmanager
def _configured(log_format: LogFormat) -> Iterator[io.StringIO]:
    """What the root logger writes once configured; pytest's own handlers are put back."""
    root = logging.getLogger()
    servers = [logging.getLogger(name) for name in UVICORN_LOGGERS]
    kept = [(logger, logger.handlers[:], logger.propagate) for logger in servers]
    level = root.level
    kept.append((root, root.handlers[:], root.propagate))
    stream = io.StringIO()
    configure_logging(log_format, stream=stream)
    try:
        yield stream
    finally:
        for logger, handlers, propagate in kept:
            for handler in logger.handlers[:]:
                logger.removeHandler(handler)
            for handler in handlers:
                logger.addHandler(handler)
            logger.propagate = propagate
        root.setLevel(level)


@pytest.fixture
def output(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """The lines written in the format CASHBACK_LOG_FORMAT=json chooses."""
    monkeypatch.setenv("CASHBACK_LOG_FORMAT", "json")
    with _configured(Settings().log_format) as stream:
        yield stream


def _lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def _failure(error: Exception) -> None:
    """The SDK's warning when an activity fails, as temporalio's worker writes it."""
    try:
        raise error
    except Exception:
        logging.getLogger("temporalio.activity").warning(
            "Completing activity as failed", exc_info=True, extra=FAILED
        )


def test_the_setting_chooses_json(output: io.StringIO) -> None:
    assert Settings().log_format is LogFormat.JSON  # from CASHBACK_LOG_FORMAT
    logging.getLogger("cashback.run").info("started %s", "worker")
    [line] = _lines(output)
    assert line["level"] == "INFO"
    assert line["logger"] == "cashback.run"
    assert line["message"] == "started worker"
    assert line["time"].endswith("+00:00")
    assert "claim_id" not in line


def test_a_line_about_a_claim_names_it(output: io.StringIO) -> None:
    workflow = {"workflow_id": "claim-c_7", "workflow_type": "ClaimWorkflow"}
    logging.getLogger("temporalio.workflow").info("waiting", extra={"temporal_workflow": workflow})
    other = {"workflow_id": "bench-1"}  # not a claim's workflow
    logging.getLogger("temporalio.workflow").info("other", extra={"temporal_workflow": other})
    first, second = _lines(output)
    assert first["claim_id"] == "c_7"
    assert "claim_id" not in second


def test_a_transient_failure_is_one_line_without_traceback(output: io.StringIO) -> None:
    _failure(TransientBankError("TECH: technical problem at the bank"))
    [line] = _lines(output)
    assert line == {
        "time": line["time"],
        "level": "WARNING",
        "logger": "temporalio.activity",
        "message": "activity payments.pay failed on attempt 3 with TECH; Temporal retries it",
        "claim_id": "c_42",
    }


def test_an_unexpected_failure_keeps_its_traceback(output: io.StringIO) -> None:
    _failure(KeyError("holder_type"))
    [line] = _lines(output)
    assert line["level"] == "WARNING"
    assert line["claim_id"] == "c_42"
    assert line["message"].startswith("Completing activity as failed")
    assert "Traceback" in line["exception"]
    assert "KeyError: 'holder_type'" in line["exception"]


def test_text_lines_name_the_claim() -> None:
    with _configured(LogFormat.TEXT) as stream:
        _failure(TransientBankError("AB05: timeout at the bank"))
    [line] = stream.getvalue().splitlines()
    assert line.endswith(
        " WARNING temporalio.activity claim=c_42 activity payments.pay failed on attempt 3 "
        "with AB05; Temporal retries it"
    )


def test_uvicorns_lines_take_the_same_format(monkeypatch: pytest.MonkeyPatch) -> None:
    """`uvicorn api.main:app` gives its loggers handlers of their own; the API's start-up
    routes them through the configured one."""
    server = logging.getLogger("uvicorn.error")
    own = logging.StreamHandler(io.StringIO())
    server.addHandler(own)
    server.propagate = False
    level = server.level  # a uvicorn started earlier in the session may have raised it
    server.setLevel(logging.INFO)
    monkeypatch.setenv("CASHBACK_LOG_FORMAT", "json")
    try:
        with _configured(Settings().log_format) as stream:
            server.warning("Application startup complete.")
    finally:
        server.removeHandler(own)
        server.propagate = True
        server.setLevel(level)
    [line] = _lines(stream)
    assert line["logger"] == "uvicorn.error"
    assert line["message"] == "Application startup complete."


async def test_the_access_log_keeps_no_secret_of_a_url(output: io.StringIO) -> None:
    """A real uvicorn's access lines: a bank-details link's token, an address confirmation's
    token and an invoice link's signature are written as `[redacted]`, the rest as it came."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    access = logging.getLogger("uvicorn.access")
    level = access.level
    access.setLevel(logging.INFO)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, lifespan="off")
    )
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:  # noqa: ASYNC110 (uvicorn has no event)
            await asyncio.sleep(0.02)
        port = server.servers[0].sockets[0].getsockname()[1]
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            for url in (
                "/bank-details/Zm9vYmFyU2VjcmV0VG9rZW4",
                "/auth/confirm?token=Zm9vYmFyU2VjcmV0VG9rZW4&lang=de",
                "/invoices/r1/c1.pdf?expires=99&signature=Zm9vYmFyU2VjcmV0VG9rZW4",
            ):
                assert (await client.get(url)).status_code == 200
    finally:
        server.should_exit = True
        await serving
        access.setLevel(level)
    messages = [line["message"] for line in _lines(output) if line["logger"] == "uvicorn.access"]
    assert len(messages) == 3, output.getvalue()
    assert not any("Zm9vYmFyU2VjcmV0VG9rZW4" in message for message in messages)
    assert '"GET /bank-details/[redacted] HTTP/1.1" 200' in messages[0]
    assert "/auth/confirm?token=[redacted]&lang=de " in messages[1]
    assert "/invoices/r1/c1.pdf?expires=99&signature=[redacted] " in messages[2]
