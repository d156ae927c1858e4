"""The configuration table (docs/configuration.md) names every setting the code reads, and
production refuses the development secrets."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from cashback.config import (
    DEVELOPMENT_BANK_DETAILS_KEY,
    DEVELOPMENT_DECISION_KEY,
    DEVELOPMENT_PAYLOAD_KEY,
    Settings,
)

TABLE = (Path(__file__).parents[1] / "docs" / "configuration.md").read_text()


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_every_setting_is_documented(name: str) -> None:
    assert f"`CASHBACK_{name.upper()}`" in TABLE


def test_production_refuses_the_development_keys() -> None:
    with pytest.raises(ValidationError, match="CASHBACK_BANK_DETAILS_KEY"):
        Settings(environment="production", database_url="postgresql+psycopg://db/cashback")


def test_a_key_of_the_wrong_length_is_named() -> None:
    with pytest.raises(ValidationError, match="CASHBACK_PAYLOAD_KEY must be 32 bytes"):
        Settings(payload_key="c2hvcnQ=")


KEY_A = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="  # 32 bytes, base64
KEY_B = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA="
KEY_C = "c2lnbmluZy1kZWNpc2lvbnMtZm9yLW9wZXJhdG9ycyE="
PRODUCTION: dict[str, Any] = {
    "environment": "production",
    "database_url": "postgresql+psycopg://db/cashback",
    "bank_details_key": KEY_A,
    "payload_key": KEY_B,
    "decision_key": KEY_C,
    "public_base_url": "https://cashback.example",
}


def test_a_production_configuration_with_real_secrets_starts() -> None:
    assert Settings(**PRODUCTION).environment.value == "production"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"payload_key": DEVELOPMENT_PAYLOAD_KEY}, "CASHBACK_PAYLOAD_KEY: the development key"),
        (
            {"payload_retired_keys": {"p0": DEVELOPMENT_PAYLOAD_KEY}},
            r"development key from CASHBACK_PAYLOAD_RETIRED_KEYS \(p0\)",
        ),
        (
            {"payload_retired_keys": {"old": DEVELOPMENT_BANK_DETAILS_KEY}},
            r"development key from CASHBACK_PAYLOAD_RETIRED_KEYS \(old\)",
        ),
        (
            {"bank_details_key": DEVELOPMENT_PAYLOAD_KEY},
            "CASHBACK_BANK_DETAILS_KEY: the development key",
        ),
        (
            {"decision_key": DEVELOPMENT_DECISION_KEY},
            "CASHBACK_DECISION_KEY: the development key",
        ),
        (
            {"decision_key": DEVELOPMENT_BANK_DETAILS_KEY},
            "CASHBACK_DECISION_KEY: the development key",
        ),
    ],
)
def test_production_refuses_a_development_key_wherever_it_is(
    change: dict[str, Any], message: str
) -> None:
    """The development keys are in the source: refused as the current key, as a retired
    payload key, and for the other purpose."""
    with pytest.raises(ValidationError, match=message):
        Settings(**{**PRODUCTION, **change})


@pytest.mark.parametrize(
    ("change", "first", "second"),
    [
        ({"payload_key": KEY_A}, "CASHBACK_BANK_DETAILS_KEY", "CASHBACK_PAYLOAD_KEY"),
        (
            {"payload_retired_keys": {"p0": KEY_A}},
            "CASHBACK_BANK_DETAILS_KEY",
            r"CASHBACK_PAYLOAD_RETIRED_KEYS\[p0\]",
        ),
        ({"smtp_password": KEY_B}, "CASHBACK_PAYLOAD_KEY", "CASHBACK_SMTP_PASSWORD"),
        ({"decision_key": KEY_B}, "CASHBACK_PAYLOAD_KEY", "CASHBACK_DECISION_KEY"),
        ({"decision_key": KEY_A}, "CASHBACK_BANK_DETAILS_KEY", "CASHBACK_DECISION_KEY"),
        (
            {"s3_secret_access_key": "same-secret", "smtp_password": "same-secret"},
            "CASHBACK_S3_SECRET_ACCESS_KEY",
            "CASHBACK_SMTP_PASSWORD",
        ),
        (  # the same key bytes in another base64 spelling (other unused low bits)
            {"payload_key": KEY_A[:-2] + "Z="},
            "CASHBACK_BANK_DETAILS_KEY",
            "CASHBACK_PAYLOAD_KEY",
        ),
    ],
)
def test_production_refuses_one_secret_for_two_purposes(
    change: dict[str, Any], first: str, second: str
) -> None:
    """One secret for two purposes (bank details, payloads, S3, SMTP) is refused, naming
    both settings; a retired payload key is of the payloads' purpose."""
    with pytest.raises(ValidationError, match=f"{first} and {second} hold the same secret"):
        Settings(**{**PRODUCTION, **change})
    assert Settings(**{**PRODUCTION, "payload_retired_keys": {"p0": KEY_B}})


@pytest.mark.parametrize(
    "url", ["http://cashback.example", "http://10.0.0.5:8000", "ftp://cashback.example", "https://"]
)
def test_production_refuses_a_public_url_without_https(url: str) -> None:
    """The e-mails' bank-details links carry a one-time credential: https:// only."""
    with pytest.raises(ValidationError, match="must be an https:// address in production"):
        Settings(**{**PRODUCTION, "public_base_url": url})


def test_production_needs_the_public_url_set_and_allows_loopback_http() -> None:
    """The default (the development address) is refused in production; http on this
    machine's loopback is allowed (the production-like stack of docker-compose.yml)."""
    unset = {name: value for name, value in PRODUCTION.items() if name != "public_base_url"}
    with pytest.raises(ValidationError, match="set CASHBACK_PUBLIC_BASE_URL"):
        Settings(**unset)
    for url in ("http://localhost:8000", "http://127.0.0.1:8000", "http://[::1]:8000"):
        assert Settings(**{**PRODUCTION, "public_base_url": url}).public_base_url == url


def test_r16_payment_runs_watch_paid_claims_for_returns_unless_the_policy_says() -> None:
    """R16: with payment runs a paid claim watches 14 days for a return of its transfer; the
    simulated bank never returns one (no watch); a policy's own watch, zero too, is kept."""
    assert Settings(payment_gateway="payment_runs").policy.returns_watched_for == timedelta(days=14)
    assert Settings().policy.returns_watched_for == timedelta(0)
    own = Settings(payment_gateway="payment_runs", policy={"returns_watched_for": "P3D"})
    assert own.policy.returns_watched_for == timedelta(days=3)
    none = Settings(payment_gateway="payment_runs", policy={"returns_watched_for": 0})
    assert none.policy.returns_watched_for == timedelta(0)
    with pytest.raises(ValidationError, match="returns_watched_for"):
        Settings(policy={"returns_watched_for": "-P1D"})


def test_r14_the_removed_file_exchange_gateway_fails_at_start_naming_payment_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """R14: a configuration still naming the JSON order file (removed) is refused at start,
    with the setting to use instead."""
    monkeypatch.setenv("CASHBACK_PAYMENT_GATEWAY", "file_exchange")
    with pytest.raises(ValidationError, match="CASHBACK_PAYMENT_GATEWAY=payment_runs"):
        Settings()


def test_r14_the_simulated_finance_desk_is_refused_in_production() -> None:
    """R14, four eyes: in production people prepare and release payment runs; the simulated
    finance desk is refused there."""
    with pytest.raises(ValidationError, match="CASHBACK_FINANCE_DESK is for development only"):
        Settings(**PRODUCTION, finance_desk=True)


def test_r16_a_simulated_return_needs_a_reason_code() -> None:
    """R16: the simulated bank returns a booked transfer with an ISO 20022 reason code."""
    with pytest.raises(ValidationError, match="CASHBACK_SIMULATED_BANK_RETURNS"):
        Settings(simulated_bank_returns={"DE36500105175407324396": "closed"})
