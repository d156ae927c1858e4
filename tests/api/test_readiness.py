"""/readyz in its not-ready states: the database or Temporal does not answer (a port where
nothing listens, a database file that cannot be opened). 503 with the part that is down named;
/healthz still answers (the process runs); once the part is back, ready again."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import Client

from bench.stack import free_port
from cashback.db import make_engine
from cashback.db.session import Database
from tests.api.harness import Api


async def test_readyz_is_503_while_the_database_does_not_answer(
    api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "no-such-directory" / "cashback.sqlite3"
    monkeypatch.setattr(api.services, "database", Database(make_engine(f"sqlite:///{missing}")))
    ready = await api.http.get("/readyz")
    assert ready.status_code == 503
    assert ready.json() == {"status": "unavailable", "database": "unreachable", "temporal": "ok"}
    assert (await api.http.get("/healthz")).status_code == 200

    monkeypatch.undo()
    assert (await api.http.get("/readyz")).json()["status"] == "ok"


async def test_readyz_is_503_while_temporal_does_not_answer(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    nobody = await Client.connect(f"127.0.0.1:{free_port()}", lazy=True)
    monkeypatch.setattr(api.services, "temporal", nobody)
    ready = await api.http.get("/readyz")
    assert ready.status_code == 503
    assert ready.json() == {"status": "unavailable", "database": "ok", "temporal": "unreachable"}
    assert (await api.http.get("/healthz")).status_code == 200

    monkeypatch.undo()
    assert (await api.http.get("/readyz")).json()["status"] == "ok"
