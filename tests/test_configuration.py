"""The configuration table (docs/configuration.md) names every setting the code reads, and
production refuses the development secrets."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from cashback.config import Settings

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
