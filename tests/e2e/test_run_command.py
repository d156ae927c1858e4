"""`make run` as a person starts it: the whole program comes up on loopback and stops cleanly on
Ctrl-C; a taken port gets a clear message."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from api.demo_data import (
    DEMO_PASSWORD,
    FINANCE_PREPARER_EMAIL,
    FINANCE_RELEASER_EMAIL,
    OPERATOR_EMAIL,
    RESELLER_EMAIL,
)
from bench.stack import free_port

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).parents[2]


@pytest.fixture
def run_env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "CASHBACK_DATA_DIR": str(tmp_path / "var"),
        "CASHBACK_SMTP_PORT": str(free_port()),
        "CASHBACK_TEMPORAL_ADDRESS": "127.0.0.1:7233",
    }


def as_demo_reseller(base: str, path: str, email: str = RESELLER_EMAIL) -> Any:
    """GET `path` of the API at `base` as the demo reseller, or the demo account `email` (R1:
    signed in)."""
    credentials = f"username={email}&password={DEMO_PASSWORD}".encode()
    with urllib.request.urlopen(f"{base}/auth/token", data=credentials, timeout=10) as answer:
        token = json.loads(answer.read())["access_token"]
    request = urllib.request.Request(f"{base}{path}", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def start(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "cashback.run", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_run_brings_up_temporal_ui_worker_and_mail_then_stops(run_env: dict[str, str]) -> None:
    """The run command starts the Temporal server with its Web UI, the database, the local mail
    server, the worker and the API (ready: database and Temporal answer), prints where they
    are and the demo accounts (R1: the demo reseller signs in and sees the two demo offers),
    and stops on Ctrl-C with exit code 0."""
    temporal_port, ui_port, api_port = free_port(), free_port(), free_port()
    process = start(
        run_env,
        *("--temporal-port", str(temporal_port), "--ui-port", str(ui_port)),
        *("--api-port", str(api_port)),
    )
    lines: list[str] = []
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("Press Ctrl-C"):
                break
        output = "".join(lines)
        assert "Cashback is running" in output, output
        assert f"http://127.0.0.1:{ui_port}/namespaces/default/workflows" in output
        with urllib.request.urlopen(f"http://127.0.0.1:{ui_port}/", timeout=10) as response:
            assert response.status == 200
        ready = f"http://127.0.0.1:{api_port}/readyz"
        with urllib.request.urlopen(ready, timeout=10) as response:
            assert json.loads(response.read()) == {
                "status": "ok",
                "database": "ok",
                "temporal": "ok",
            }
        assert (Path(run_env["CASHBACK_DATA_DIR"]) / "cashback.sqlite3").exists()
        assert f"reseller          {RESELLER_EMAIL}" in output
        assert f"prepared by       {FINANCE_PREPARER_EMAIL}" in output  # R14: the finance desk
        assert f"released by       {FINANCE_RELEASER_EMAIL}" in output
        offers = as_demo_reseller(f"http://127.0.0.1:{api_port}", "/offers")
        assert len(offers["offers"]) == 2
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_run_names_a_taken_port(run_env: dict[str, str]) -> None:
    """A port already in use stops the command at once with a message that says which one."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = start(
            run_env,
            *("--temporal-port", str(port), "--ui-port", str(free_port())),
            *("--api-port", str(free_port())),
        )
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 2
    assert f"127.0.0.1:{port} is already in use" in output


def test_demo_claims_take_their_paths(run_env: dict[str, str]) -> None:
    """`make demo`: a day lasts ten seconds and eight demo claims are sent on their way; within
    a minute they are paid through payment runs that the finance desk prepares and releases
    (R14), rejected (R8), cancelled for an individual's account (R12), corrected and paid
    (R11), failed at the bank (R16), and paid and then returned by the bank (camt.054, AC04),
    which takes the claim back into R16, while two wait for review (R9). The
    finance desk works every second here rather than once a program day, to keep it quick."""
    temporal_port, ui_port, api_port = free_port(), free_port(), free_port()
    process = start(
        run_env | {"CASHBACK_FINANCE_DESK_EVERY_SECONDS": "1"},
        *("--demo", "--temporal-port", str(temporal_port), "--ui-port", str(ui_port)),
        *("--api-port", str(api_port)),
    )
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 120
        output = ""
        while time.monotonic() < deadline and "Demo claims are on their way" not in output:
            line = process.stdout.readline()
            if not line:
                break
            output += line
        assert "Demo claims are on their way" in output, output
        base = f"http://127.0.0.1:{api_port}"
        expected = {
            "OL-DEMO-1": "PAID",
            "OL-DEMO-3": "REJECTED",
            "OL-DEMO-4": "CANCELLED",
            "OL-DEMO-5": "PAID",
            "OL-DEMO-6": "PAYMENT_FAILED",
            "OL-DEMO-7": "PAYMENT_FAILED",
        }
        for _ in range(120):
            page = as_demo_reseller(base, "/claims?limit=50")
            seen = {c["agreement_number"]: c["status"] for c in page["claims"]}
            ids = {c["agreement_number"]: c["claim_id"] for c in page["claims"]}
            if all(seen.get(number) == status for number, status in expected.items()):
                break
            time.sleep(0.5)
        assert {number: seen.get(number) for number in expected} == expected
        assert len(seen) == 8
        returned = as_demo_reseller(base, f"/claims/{ids['OL-DEMO-7']}")
        events = [(e["event"], e.get("to_status")) for e in returned["timeline"]]
        assert events[-3:] == [
            ("status_changed", "PAID"),
            ("payment_returned", None),
            ("status_changed", "PAYMENT_FAILED"),
        ]
        back = as_demo_reseller(base, "/operator/payments/returned", OPERATOR_EMAIL)
        assert back == []  # the claim took its return back: nothing left for the operators
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
