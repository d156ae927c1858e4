"""The customer invoice of a claim (R5): stored by the API before the workflow starts; the
workflow makes sure it is there, unchanged, before it confirms the submission."""

from __future__ import annotations

from datetime import timedelta
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field
from temporalio import activity
from temporalio.common import RetryPolicy

TIMEOUT = timedelta(seconds=30)
RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    maximum_interval=timedelta(minutes=5),
    maximum_attempts=20,
)


class InvoiceRef(BaseModel):
    """Where the invoice is stored and what its bytes hash to."""

    model_config = ConfigDict(frozen=True)

    object_key: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    content_type: str
    size_bytes: int = Field(ge=1)


class InvoiceCheck(BaseModel):
    model_config = ConfigDict(frozen=True)

    present: bool
    sha256_matches: bool

    @property
    def is_intact(self) -> bool:
        return self.present and self.sha256_matches


class InvoiceStore(Protocol):
    def stored_sha256(self, object_key: str) -> str | None:
        """The SHA-256 recorded for `object_key`, or None when no such invoice is stored."""
        ...


class InvoiceActivities:
    def __init__(self, store: InvoiceStore) -> None:
        self._store = store

    @activity.defn(name="invoices.check_invoice")
    def check_invoice(self, invoice: InvoiceRef) -> InvoiceCheck:
        """R5: the claim's invoice is stored and its SHA-256 is the one the API recorded."""
        stored = self._store.stored_sha256(invoice.object_key)
        return InvoiceCheck(present=stored is not None, sha256_matches=stored == invoice.sha256)
