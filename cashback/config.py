"""One settings object for every process (worker, API, run command), read from the environment
(`CASHBACK_*`). It fails fast on bad configuration, and refuses development secrets in
production."""

from __future__ import annotations

import base64
import contextlib
import re
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Self
from urllib.parse import urlsplit

from pydantic import EmailStr, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from cashback.domain.policy import ProgramPolicy

# A fixed key so that a development database stays readable across restarts; refused in
# production, where CASHBACK_BANK_DETAILS_KEY must be set (32 random bytes, base64).
DEVELOPMENT_BANK_DETAILS_KEY = base64.b64encode(b"cashback-development-key-32bytes").decode()
DEVELOPMENT_PAYLOAD_KEY = base64.b64encode(b"cashback-dev-payload-key-32bytes").decode()
DEVELOPMENT_DECISION_KEY = base64.b64encode(b"cashback-dev-decision-key-32byte").decode()
# Refused in production wherever a key goes (current, retired or for another purpose).
_DEVELOPMENT_KEYS = frozenset(
    base64.b64decode(key)
    for key in (DEVELOPMENT_BANK_DETAILS_KEY, DEVELOPMENT_PAYLOAD_KEY, DEVELOPMENT_DECISION_KEY)
)
_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
_REASON = re.compile(r"^[A-Z0-9]{4}$")


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
    SIMULATED = "simulated"  # the simulated bank: answers each payment at once (tests)
    PAYMENT_RUNS = "payment_runs"  # orders queued for SEPA payment runs (pain.001, four eyes)


REMOVED_PAYMENT_GATEWAYS: dict[str, str] = {
    "file_exchange": (
        "CASHBACK_PAYMENT_GATEWAY=file_exchange was removed (no bank reads a JSON order file): "
        "set CASHBACK_PAYMENT_GATEWAY=payment_runs, whose pain.001 files a second operator "
        "releases and whose pain.002/camt.054 answers are imported (docs/operators.md, "
        '"Payment runs")'
    ),
}


class LogFormat(StrEnum):
    TEXT = "text"  # one line of text per record, `claim=<id>` on the lines about a claim
    JSON = "json"  # one JSON object per line, for a log collector


class InvoiceBackend(StrEnum):
    LOCAL = "local"
    S3 = "s3"


# R16: how long a claim paid through a payment run stays open for a return of its transfer. A
# SEPA credit transfer the beneficiary's bank cannot credit comes back within days of the
# booking (the SCT rulebook gives it three banking days after settlement to return it): two
# weeks cover that with a margin for weekends, holidays and the time until the operators import
# the camt.054, without keeping paid claims open for long.
RETURNS_WATCHED_FOR_PAYMENT_RUNS = timedelta(days=14)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CASHBACK_", env_nested_delimiter="__")

    environment: Environment = Environment.DEVELOPMENT
    data_dir: Path = Field(default=Path("var"), description="embedded default's files")
    demo_data: bool = Field(
        default=True, description="make run: add demo accounts, offers and records (development)"
    )

    log_format: LogFormat = Field(
        default=LogFormat.TEXT, description="the worker's, the API's and `make run`'s log lines"
    )

    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    task_queue: str = "claims"
    worker_max_cached_workflows: int = Field(
        default=500, ge=0, description="workflows a worker keeps in memory between their tasks"
    )
    worker_activity_threads: int = Field(
        default=16,
        ge=1,
        description="activities a worker runs at once (threads; as many activity tasks taken)",
    )
    worker_workflow_task_pollers: int = Field(
        default=5, ge=1, description="a worker's concurrent long polls for workflow tasks"
    )
    worker_activity_task_pollers: int = Field(
        default=5, ge=1, description="a worker's concurrent long polls for activity tasks"
    )
    worker_metrics_address: str | None = Field(
        default=None,
        pattern=r"^[^\s:]+:\d{1,5}$",
        description="host:port where the worker serves the Temporal SDK's metrics; off if unset",
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
    decision_key: SecretStr = Field(
        default=SecretStr(DEVELOPMENT_DECISION_KEY),
        description="HMAC-SHA256 key (base64) signing operators' decisions; API and worker",
    )
    codec_cors_origins: list[str] = Field(
        default_factory=lambda: ["http://127.0.0.1:8233", "http://localhost:8233"],
        description="Temporal Web UI origins allowed to call the codec endpoint",
    )
    payment_gateway: PaymentGatewayKind = Field(
        default=PaymentGatewayKind.SIMULATED,
        description="simulated (answers at once) or payment_runs; `make run` takes payment_runs",
    )
    simulated_bank_behaviours: dict[str, str] = Field(
        default_factory=dict, description="IBAN -> ISO 20022 code the simulated bank answers"
    )
    simulated_bank_returns: dict[str, str] = Field(
        default_factory=dict,
        description="payment runs: IBAN -> reason code of a camt.054 return the simulated bank "
        "sends the day after it booked the transfer",
    )
    finance_desk: bool = Field(
        default=False,
        description="development only: a simulated finance desk prepares, releases and imports "
        "payment runs by itself (on in `make run` and `make demo`)",
    )
    finance_desk_every_seconds: float = Field(
        default=5.0,
        gt=0,
        le=3600,
        description="how often the simulated finance desk looks for payment orders due",
    )
    simulated_payee_answers: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "IBAN -> the simulated Verification of Payee answer (MTCH, NMTC, NOAP or "
            "CMTC:<held name>); every other IBAN answers MTCH. Checked when the worker starts"
        ),
    )

    debtor_name: str = Field(
        default="Cashback Program GmbH",
        min_length=1,
        max_length=70,
        description="payment runs: the account holder the cash back leaves from",
    )
    debtor_iban: str = Field(
        default="DE89370400440532013000",
        pattern=r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$",
        description="payment runs: the program's account (IBAN, no spaces)",
    )
    debtor_bic: str | None = Field(
        default="COBADEFFXXX",
        pattern=r"^[A-Z]{6}[A-Z2-9][A-NP-Z0-9]([A-Z0-9]{3})?$",
        description="payment runs: the BIC of the program's bank",
    )
    bank_file_max_bytes: int = Field(
        default=2 * 1024 * 1024,
        gt=0,
        le=8 * 1024 * 1024,
        description="payment runs: the largest pain.002 or camt.054 file imported (8 MiB at most)",
    )
    webhook_allow_loopback: bool = Field(
        default=False,
        description="development only: webhook endpoints on loopback (plain http:// too)",
    )
    webhook_retry_initial_seconds: float = Field(
        default=10.0, gt=0, description="the first retry of a webhook; doubling from there"
    )
    webhook_give_up_after_hours: float = Field(
        default=72.0, gt=0, description="a webhook not delivered within this disables its endpoint"
    )

    policy: ProgramPolicy = Field(default_factory=ProgramPolicy)

    @field_validator("payment_gateway", mode="before")
    @classmethod
    def _gateway_not_removed(cls, value: object) -> object:
        if isinstance(value, str) and value.strip().lower() in REMOVED_PAYMENT_GATEWAYS:
            raise ValueError(REMOVED_PAYMENT_GATEWAYS[value.strip().lower()])
        return value

    @field_validator("simulated_bank_returns")
    @classmethod
    def _known_return_reasons(cls, returns: dict[str, str]) -> dict[str, str]:
        unknown = sorted({code for code in returns.values() if not _REASON.match(code)})
        if unknown:
            raise ValueError(
                f"CASHBACK_SIMULATED_BANK_RETURNS: {unknown} are no ISO 20022 reason codes "
                "(four capital letters or digits, e.g. AC04)"
            )
        return returns

    @model_validator(mode="after")
    def _payment_runs_watch_for_returns(self) -> Self:
        """R16: with payment runs a real bank answers, and it may return a booked transfer
        (SEPA returns come within days of the booking): paid claims watch for a return for
        `RETURNS_WATCHED_FOR_PAYMENT_RUNS` unless the policy sets its own watch."""
        self.policy = _watching_for_returns(self.policy, self.payment_gateway)
        return self

    def paying_through(self, gateway: PaymentGatewayKind) -> Settings:
        """These settings with payouts through `gateway`, and that gateway's watch for returns
        (R16) unless the policy sets its own (a copy: `model_copy` runs no validator)."""
        paying = self.model_copy(update={"payment_gateway": gateway})
        paying.policy = _watching_for_returns(paying.policy, gateway)
        return paying

    @model_validator(mode="after")
    def _production_needs_real_secrets(self) -> Self:
        self.bank_details_key_bytes  # noqa: B018 (validates the keys now, not at first use)
        self.payload_keys  # noqa: B018
        self.decision_key_bytes  # noqa: B018
        if self.environment is Environment.PRODUCTION:
            if self.bank_details_key_bytes in _DEVELOPMENT_KEYS:
                raise ValueError("set CASHBACK_BANK_DETAILS_KEY: the development key is refused")
            current, retired = self.payload_keys
            if current in _DEVELOPMENT_KEYS:
                raise ValueError("set CASHBACK_PAYLOAD_KEY: the development key is refused")
            for key_id, key in retired.items():
                if key in _DEVELOPMENT_KEYS:
                    raise ValueError(
                        f"remove the development key from CASHBACK_PAYLOAD_RETIRED_KEYS "
                        f"({key_id}): what it sealed is readable by anyone with the source"
                    )
            if self.decision_key_bytes in _DEVELOPMENT_KEYS:
                raise ValueError(
                    "set CASHBACK_DECISION_KEY: the development key is refused (anyone with "
                    "the source could sign decisions in any operator's name)"
                )
            shared = self._secrets_shared_between_purposes()
            if shared:
                raise ValueError(
                    f"{shared[0]} and {shared[1]} hold the same secret: give each purpose a "
                    "key of its own, so that one leaking does not open the other"
                )
            if not self.database_url:
                raise ValueError("set CASHBACK_DATABASE_URL (PostgreSQL) in production")
            if self.finance_desk:
                raise ValueError(
                    "CASHBACK_FINANCE_DESK is for development only: in production operators "
                    "prepare and release payment runs themselves (four eyes)"
                )
            if self.webhook_allow_loopback:
                raise ValueError(
                    "CASHBACK_WEBHOOK_ALLOW_LOOPBACK is for development only: in production "
                    "webhooks go to public https:// endpoints"
                )
            self._check_public_base_url()
        return self

    def _secrets_shared_between_purposes(self) -> tuple[str, str] | None:
        """The first two settings of different purposes with the same secret, if any (keys
        compared by their bytes, whatever their base64 spelling)."""
        held: list[tuple[str, str, set[str | bytes]]] = []  # (purpose, setting, forms)

        def add(purpose: str, setting: str, secret: SecretStr | None) -> None:
            if secret is None or not secret.get_secret_value():
                return
            value = secret.get_secret_value()
            forms: set[str | bytes] = {value}
            with contextlib.suppress(ValueError):  # not base64: compared as it is
                forms.add(base64.b64decode(value, validate=True))
            held.append((purpose, setting, forms))

        add("bank details", "CASHBACK_BANK_DETAILS_KEY", self.bank_details_key)
        add("payloads", "CASHBACK_PAYLOAD_KEY", self.payload_key)
        for key_id, key in self.payload_retired_keys.items():
            add("payloads", f"CASHBACK_PAYLOAD_RETIRED_KEYS[{key_id}]", key)
        add("decisions", "CASHBACK_DECISION_KEY", self.decision_key)
        add("S3", "CASHBACK_S3_SECRET_ACCESS_KEY", self.s3_secret_access_key)
        add("SMTP", "CASHBACK_SMTP_PASSWORD", self.smtp_password)
        for index, (purpose, setting, forms) in enumerate(held):
            for other_purpose, other_setting, other_forms in held[index + 1 :]:
                if purpose != other_purpose and forms & other_forms:
                    return setting, other_setting
        return None

    def _check_public_base_url(self) -> None:
        """Links to the bank-details page carry a one-time credential: HTTPS, except on this
        machine's loopback (a production-like stack run locally, as docker-compose.yml does)."""
        if "public_base_url" not in self.model_fields_set:
            raise ValueError(
                "set CASHBACK_PUBLIC_BASE_URL to the API's public https:// address: the "
                "links in the e-mails point there"
            )
        url = urlsplit(self.public_base_url)
        if url.scheme == "https" and url.hostname:
            return
        if url.scheme == "http" and url.hostname in _LOOPBACK_HOSTS:
            return
        raise ValueError(
            f"CASHBACK_PUBLIC_BASE_URL must be an https:// address in production (it is "
            f"{self.public_base_url!r}): the bank-details links in the e-mails carry a "
            "one-time credential"
        )

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
    def decision_key_bytes(self) -> bytes:
        return _key_bytes("CASHBACK_DECISION_KEY", self.decision_key)

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'cashback.sqlite3'}"

    @property
    def webhook_task_queue(self) -> str:
        """The webhook delivery workflows' task queue, beside the claims'."""
        return f"{self.task_queue}-webhooks"


def _watching_for_returns(policy: ProgramPolicy, gateway: PaymentGatewayKind) -> ProgramPolicy:
    """R16: payment runs watch paid claims for a return for `RETURNS_WATCHED_FOR_PAYMENT_RUNS`,
    unless the policy sets its own watch (zero too); other gateways keep the policy."""
    if gateway is not PaymentGatewayKind.PAYMENT_RUNS or (
        "returns_watched_for" in policy.model_fields_set
    ):
        return policy
    return policy.model_copy(update={"returns_watched_for": RETURNS_WATCHED_FOR_PAYMENT_RUNS})
