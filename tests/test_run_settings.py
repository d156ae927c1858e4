"""`make run ARGS=...`: the settings the ports chosen give (cashback/run.py `configure`)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cashback.config import RETURNS_WATCHED_FOR_PAYMENT_RUNS, Settings
from cashback.demo import DEMO_BANK_RETURNS, PROGRAM_DAY_SECONDS
from cashback.run import configure, with_ui_origins

DEFAULT_ORIGINS = ["http://127.0.0.1:8233", "http://localhost:8233"]


@pytest.fixture(autouse=True)
def _defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CASHBACK_CODEC_CORS_ORIGINS", "CASHBACK_PUBLIC_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CASHBACK_TEMPORAL_ADDRESS", "127.0.0.1:7233")


def test_r13_a_web_ui_on_another_port_may_call_the_codec() -> None:
    """R13: `--ui-port 8300` adds the Web UI's origin under both loopback names to the codec's
    allowed CORS origins; the default UI's origins stay."""
    settings, options = configure(["--ui-port", "8300", "--api-port", "8100"])
    assert options.ui_port == 8300
    assert settings.codec_cors_origins == [
        *DEFAULT_ORIGINS,
        "http://127.0.0.1:8300",
        "http://localhost:8300",
    ]
    assert settings.public_base_url == "http://127.0.0.1:8100"


def test_r13_the_default_ui_port_adds_nothing_twice() -> None:
    """R13: on the default port (8233) the origins are the default ones, each once."""
    settings, _ = configure([])
    assert settings.codec_cors_origins == DEFAULT_ORIGINS


def test_r13_configured_origins_are_kept_and_the_demo_keeps_the_ui_origin(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """R13: origins set in CASHBACK_CODEC_CORS_ORIGINS stay beside the UI's; `--demo` keeps
    them too."""
    monkeypatch.setenv("CASHBACK_CODEC_CORS_ORIGINS", '["https://temporal.example"]')
    settings, _ = configure(["--ui-port", "9000", "--demo"])
    assert settings.codec_cors_origins == [
        "https://temporal.example",
        "http://127.0.0.1:9000",
        "http://localhost:9000",
    ]


def test_r13_the_host_listened_on_is_an_origin_too() -> None:
    """R13: a stack on another address than loopback is reached at that address's origin."""
    settings = Settings(codec_cors_origins=[])
    widened = with_ui_origins(settings, "10.0.0.5", 8400)
    assert widened.codec_cors_origins == [
        "http://10.0.0.5:8400",
        "http://127.0.0.1:8400",
        "http://localhost:8400",
    ]
    assert settings.codec_cors_origins == []


def test_r14_make_run_pays_through_payment_runs_with_the_finance_desk(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """R14: `make run` takes payment runs and switches the simulated finance desk on (every
    few seconds); `--demo` makes it work once a program day and has the simulated bank return
    one account's transfer after booking it, which takes the paid claim back into R16 (paid
    claims watch for returns with payment runs); what the environment sets is kept."""
    for name in (
        "CASHBACK_PAYMENT_GATEWAY",
        "CASHBACK_FINANCE_DESK",
        "CASHBACK_FINANCE_DESK_EVERY_SECONDS",
    ):
        monkeypatch.delenv(name, raising=False)
    settings, _ = configure([])
    assert (settings.payment_gateway, settings.finance_desk) == ("payment_runs", True)
    assert settings.finance_desk_every_seconds == 5
    demo, _ = configure(["--demo"])
    assert (demo.finance_desk, demo.finance_desk_every_seconds) == (True, PROGRAM_DAY_SECONDS)
    assert demo.simulated_bank_returns == DEMO_BANK_RETURNS
    assert settings.policy.returns_watched_for == demo.policy.returns_watched_for
    assert demo.policy.returns_watched_for == RETURNS_WATCHED_FOR_PAYMENT_RUNS

    monkeypatch.setenv("CASHBACK_PAYMENT_GATEWAY", "simulated")
    monkeypatch.setenv("CASHBACK_FINANCE_DESK", "false")
    monkeypatch.setenv("CASHBACK_FINANCE_DESK_EVERY_SECONDS", "1")
    kept, _ = configure(["--demo"])
    assert (kept.payment_gateway, kept.finance_desk) == ("simulated", False)
    assert kept.finance_desk_every_seconds == 1
    assert kept.policy.returns_watched_for == timedelta(0)  # the simulated bank never returns
