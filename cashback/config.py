"""One settings object for every process (worker, API, run command), read from the environment
(`CASHBACK_*`). It fails fast on bad configuration, and refuses development secrets in
production."""

from __future__ import annotations

import base64
from enum import StrEnum
from pathlib import Path
from typing import Self

from pydantic import EmailStr, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from cashback.domain.policy import ProgramPolicy

# A fixed key so that a development database stays readable across restarts; refused in
# production, where CASHBACK_BANK_DETAILS_KEY must be set (32 random bytes, base64).
DEVELOPMENT_BANK_DETAILS_KEY = base64.b64encode(b"cashback-development-key-32bytes").decode()
DEVELOPMENT_PAYLOAD_KEY = base64.b64encode(b"cashback-dev-payload-key-32bytes").decode()


def _key_bytes(name: str, secret: SecretStr) -> bytes:
    try:
        material = base64.b64decode(secret.get_secret_value(), validate=True)
    except ValueError as error:
        raise ValueError(f"{name} is not valid base64") from error
    if len(material) != 32:
        raise ValueError(f"{name} must be 32 bytes, base64-encoded")
    return material


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class PaymentGatewayKind(StrEnum):
    SIMULATED = "simulated"  # the simulated bank: answers at once (embedded default, demos)
    FILE_EXCHANGE = "file_exchange"  # orders as files; answers entered by operators


class InvoiceBackend(StrEnum):
    LOCAL = "local"
    S3 = "s3"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CASHBACK_", env_nested_delimiter="__")

    environment: Environment = Environment.DEVELOPMENT
    data_dir: Path = Field(default=Path("var"), description="embedded default's files")
    demo_data: bool = Field(
        default=True, description="make run: add demo accounts, offers and records (development)"
    )

    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    task_queue: str = "claims"
    worker_max_cached_workflows: int = Field(
        default=1000, ge=0, description="workflows a worker keeps in memory between their tasks"
    )

    database_url: str = Field(default="", description="default: SQLite in data_dir")

    invoice_backend: InvoiceBackend = InvoiceBackend.LOCAL
    s3_endpoint_url: str | None = None
    s3_bucket: str = "cashback-invoices"
    s3_region: str = "us-east-1"
    s3_access_key_id: str | None = None
    s3_secret_access_key: SecretStr | None = None

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    mail_from: EmailStr = "cashback@cashback.example"
    support_address: EmailStr = "support@cashback.example"
    operators_address: EmailStr = "operators@cashback.example"
    public_base_url: str = "http://127.0.0.1:8000"
    trusted_proxies: int = Field(
        default=0,
        ge=0,
        description="proxies in front of the API that append the client to X-Forwarded-For",
    )

    bank_details_key: SecretStr = SecretStr(DEVELOPMENT_BANK_DETAILS_KEY)
    bank_details_key_id: str = "k1"
    payload_key: SecretStr = Field(
        default=SecretStr(DEVELOPMENT_PAYLOAD_KEY),
        description="AES-256 key (base64) sealing Temporal payloads; the codec server uses it",
    )
    payload_key_id: str = "p1"
    payload_retired_keys: dict[str, SecretStr] = Field(
        default_factory=dict, description="key id -> older payload keys, still opened"
    )
    codec_cors_origins: list[str] = Field(
        default_factory=lambda: ["http://127.0.0.1:8233", "http://localhost:8233"],
        description="Temporal Web UI origins allowed to call the codec endpoint",
    )
    payment_gateway: PaymentGatewayKind = PaymentGatewayKind.SIMULATED
    simulated_bank_behaviours: dict[str, str] = Field(
        default_factory=dict, description="IBAN -> ISO 20022 code the simulated bank answers"
    )

    policy: ProgramPolicy = Field(default_factory=ProgramPolicy)

    @model_validator(mode="after")
    def _production_needs_real_secrets(self) -> Self:
        self.bank_details_key_bytes  # noqa: B018 (validates the keys now, not at first use)
        self.payload_keys  # noqa: B018
        if self.environment is Environment.PRODUCTION:
            if self.bank_details_key.get_secret_value() == DEVELOPMENT_BANK_DETAILS_KEY:
                raise ValueError("set CASHBACK_BANK_DETAILS_KEY: the development key is refused")
            if self.payload_key.get_secret_value() == DEVELOPMENT_PAYLOAD_KEY:
                raise ValueError("set CASHBACK_PAYLOAD_KEY: the development key is refused")
            if not self.database_url:
                raise ValueError("set CASHBACK_DATABASE_URL (PostgreSQL) in production")
        return self

    @property
    def bank_details_key_bytes(self) -> bytes:
        return _key_bytes("CASHBACK_BANK_DETAILS_KEY", self.bank_details_key)

    @property
    def payload_keys(self) -> tuple[bytes, dict[str, bytes]]:
        """The current payload key and the retired ones by key id."""
        retired = {
            key_id: _key_bytes(f"CASHBACK_PAYLOAD_RETIRED_KEYS[{key_id}]", key)
            for key_id, key in self.payload_retired_keys.items()
        }
        return _key_bytes("CASHBACK_PAYLOAD_KEY", self.payload_key), retired

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'cashback.sqlite3'}"
