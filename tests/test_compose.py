"""docker-compose.yml cannot run here (no Docker engine); what can be checked is: it parses, every
service the worker needs is there, and every CASHBACK_* variable it sets is a setting the code
reads and accepts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from cashback.config import Settings
from cashback.search_attributes import CLAIM_SEARCH_ATTRIBUTES

COMPOSE = Path(__file__).parents[1] / "docker-compose.yml"


def compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(loaded, dict)
    return loaded


def test_compose_has_the_production_stack() -> None:
    services = compose()["services"]
    assert {
        "postgres", "temporal", "temporal-ui", "minio", "mailpit", "migrate", "api", "worker"
    } <= set(services)  # fmt: skip
    assert services["temporal"]["environment"]["DB"] == "postgres12"


def test_every_cashback_variable_is_a_setting() -> None:
    """Each CASHBACK_* variable of the worker maps onto a field of Settings, and the worker's
    environment (with a real key) is a valid production configuration."""
    environment = dict(compose()["services"]["worker"]["environment"])
    fields = {f"CASHBACK_{name.upper()}" for name in Settings.model_fields}
    assert set(environment) <= fields
    environment["CASHBACK_BANK_DETAILS_KEY"] = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
    environment["CASHBACK_PAYLOAD_KEY"] = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA="
    environment["CASHBACK_DECISION_KEY"] = "c2lnbmluZy1kZWNpc2lvbnMtZm9yLW9wZXJhdG9ycyE="
    settings = Settings(**{k.removeprefix("CASHBACK_").lower(): v for k, v in environment.items()})
    assert settings.environment.value == "production"
    assert settings.resolved_database_url.startswith("postgresql+psycopg://")


def test_compose_registers_every_claim_search_attribute() -> None:
    command = " ".join(compose()["services"]["temporal-search-attributes"]["command"])
    for key in CLAIM_SEARCH_ATTRIBUTES:
        assert f"{key.name}={key._metadata_type}" in command
