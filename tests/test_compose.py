"""docker-compose.yml cannot run here (no Docker engine); what can be checked is: it parses, every
service the worker needs is there, and every CASHBACK_* variable it sets is a setting the code
reads and accepts."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

from cashback.config import Settings
from cashback.run import TEMPORAL_CLI
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


def _dev_server_versions() -> dict[str, str]:
    """The Temporal server and Web UI versions of the dev server `make run` starts."""
    answer = subprocess.run(
        [str(TEMPORAL_CLI), "--version"], capture_output=True, text=True, check=True
    ).stdout
    found = re.search(r"Server (?P<server>[\d.]+), UI (?P<ui>[\d.]+)", answer)
    assert found is not None, answer
    return found.groupdict()


def test_temporal_runs_on_current_images_at_the_dev_servers_versions() -> None:
    """Issue 12: no deprecated auto-setup image; the server image starts once admin-tools has
    set up its schema, and the server and Web UI are those of the dev server."""
    services = compose()["services"]
    versions = _dev_server_versions()
    images = {name: service.get("image", "") for name, service in services.items()}
    assert not [image for image in images.values() if "auto-setup" in image]
    assert images["temporal"] == f"temporalio/server:{versions['server']}"
    assert images["temporal-schema"] == f"temporalio/admin-tools:{versions['server']}"
    assert images["temporal-search-attributes"] == images["temporal-schema"]
    assert images["temporal-ui"] == f"temporalio/ui:{versions['ui']}"
    assert services["temporal"]["depends_on"] == {
        "temporal-schema": {"condition": "service_completed_successfully"}
    }
    schema = " ".join(services["temporal-schema"]["command"])
    assert "temporal_visibility:visibility" in schema
    assert "setup-schema" in schema
    namespace = " ".join(services["temporal-search-attributes"]["command"])
    assert "temporal operator namespace create --namespace default" in namespace


def test_prometheus_scrapes_the_api_and_every_worker() -> None:
    """Issue 13: the API's /metrics and each worker's SDK metrics, at the address the worker's
    setting binds."""
    services = compose()["services"]
    worker_address = services["worker"]["environment"]["CASHBACK_WORKER_METRICS_ADDRESS"]
    port = int(worker_address.rsplit(":", 1)[1])
    mount = services["prometheus"]["volumes"][0].split(":")[0]
    config = yaml.safe_load((COMPOSE.parent / mount).read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert jobs["cashback-api"]["static_configs"][0]["targets"] == ["api:8000"]
    assert jobs["cashback-api"]["metrics_path"] == "/metrics"
    assert jobs["cashback-worker"]["dns_sd_configs"][0] == {
        "names": ["worker"],
        "type": "A",
        "port": port,
    }
