"""Invoice storage (R5): the customer invoice of a claim, stored with its SHA-256.

`S3InvoiceStorage` for AWS S3 or MinIO, `LocalInvoiceStorage` for the embedded default; both
follow `InvoiceStorage`, and both satisfy `activities.invoices.InvoiceStore`.
"""

from cashback.invoices.links import (
    ExpiredInvoiceLink,
    InvalidInvoiceLink,
    InvoiceLinks,
    link_key,
)
from cashback.invoices.local import LocalInvoiceStorage
from cashback.invoices.s3 import S3InvoiceStorage
from cashback.invoices.storage import (
    InvalidObjectKeyError,
    InvoiceNotFoundError,
    InvoiceStorage,
    InvoiceStorageError,
    StoredInvoice,
    sha256_hex,
)

__all__ = [
    "ExpiredInvoiceLink",
    "InvalidInvoiceLink",
    "InvalidObjectKeyError",
    "InvoiceLinks",
    "InvoiceNotFoundError",
    "InvoiceStorage",
    "InvoiceStorageError",
    "LocalInvoiceStorage",
    "S3InvoiceStorage",
    "StoredInvoice",
    "link_key",
    "sha256_hex",
]
