"""R5: the local invoice store's signed links, served: whoever holds an unexpired link an
operator got from `GET /operator/claims/{id}/invoice` downloads the invoice, as from an S3
presigned URL (the link is the credential; no sign-in, so it opens in any browser tab)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi.concurrency import run_in_threadpool

from api.deps import ServicesDep
from api.errors import ApiError, error_responses, not_found
from cashback.invoices import (
    ExpiredInvoiceLink,
    InvalidInvoiceLink,
    InvalidObjectKeyError,
    InvoiceNotFoundError,
    InvoiceStorageError,
    LocalInvoiceStorage,
)
from cashback.invoices.links import PATH

router = APIRouter(tags=["operators"])
_FILE = {"type": "string", "format": "binary"}

# The invoice is a customer's document: never cached, never rendered in this origin's context.
DOWNLOAD_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "sandbox; default-src 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


@router.get(
    PATH + "/{object_key:path}",
    response_class=Response,
    responses={
        200: {
            "description": "R5: the invoice's bytes, of the type it was stored with",
            "content": {
                kind: {"schema": _FILE} for kind in ("application/pdf", "image/png", "image/jpeg")
            },
        },
        **error_responses(403, 404, 410, 503),
    },
)
async def signed_invoice(
    object_key: str,
    services: ServicesDep,
    expires: Annotated[int, Query(ge=0)] = 0,
    signature: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    """R5: the invoice behind a signed link (local store only); 403 for an altered or unsigned
    link, 410 for an expired one."""
    store = services.invoices
    if not isinstance(store, LocalInvoiceStorage) or store.links is None:
        raise not_found("an invoice link of the local store")  # S3 links go to S3
    try:
        store.links.check(object_key, expires, signature)
    except InvalidInvoiceLink as error:
        raise ApiError(403, "invoice_link_invalid", str(error)) from error
    except ExpiredInvoiceLink as error:
        raise ApiError(410, "invoice_link_expired", str(error)) from error
    try:
        data = await run_in_threadpool(store.get, object_key)
        content_type = await run_in_threadpool(store.content_type, object_key)
    except (InvoiceNotFoundError, InvalidObjectKeyError) as error:
        raise not_found("the invoice") from error
    except InvoiceStorageError as error:
        raise ApiError(503, "invoice_store_unavailable", str(error)) from error
    filename = object_key.rsplit("/", 1)[-1]
    headers = {
        **DOWNLOAD_HEADERS,
        "Content-Disposition": f'attachment; filename="{filename}"',
    }
    return Response(data, media_type=content_type, headers=headers)
