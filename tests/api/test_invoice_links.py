"""R5: the local invoice store's download link goes through the API: a short-lived signed URL
(HMAC over the object key and the expiry) that yields the invoice's bytes, and is refused when
altered (403) or after it expired (410)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from api.accounts import create_operator
from cashback.claims import claim_workflow_id
from cashback.invoices import ExpiredInvoiceLink, InvoiceLinks, LocalInvoiceStorage, link_key
from tests.api.claims_helpers import new_agreement, submitted, terminate_all
from tests.api.harness import PASSWORD, Api

PDF = b"%PDF-1.7\n% the customer invoice\n"
KEY = "invoices/c_0123456789abcdef/3f2a.pdf"


def local_store(api: Api) -> LocalInvoiceStorage:
    store = api.services.invoices
    assert isinstance(store, LocalInvoiceStorage)
    return store


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


async def test_r5_a_signed_link_yields_the_invoice(api: Api) -> None:
    """R5: the link names the API's public address and serves the bytes as a download."""
    store = local_store(api)
    store.put(KEY, PDF, "application/pdf")
    url = store.download_url(KEY, timedelta(minutes=10))
    assert url.startswith("http://testserver/invoices/invoices/c_0123456789abcdef/3f2a.pdf?")

    downloaded = await api.http.get(path_of(url))

    assert downloaded.status_code == 200, downloaded.text
    assert downloaded.content == PDF
    assert downloaded.headers["content-type"] == "application/pdf"
    assert downloaded.headers["content-disposition"] == 'attachment; filename="3f2a.pdf"'
    assert downloaded.headers["cache-control"] == "no-store"


async def test_r5_an_altered_link_is_refused(api: Api) -> None:
    """R5: another key, another expiry, another signature or none: 403, no bytes."""
    store = local_store(api)
    store.put(KEY, PDF, "application/pdf")
    store.put("invoices/other/1.pdf", b"%PDF another customer's invoice", "application/pdf")
    parts = urlsplit(store.download_url(KEY, timedelta(minutes=10)))
    query = {name: values[0] for name, values in parse_qs(parts.query).items()}
    later = {**query, "expires": str(int(query["expires"]) + 3600)}
    flipped = query["signature"][:-1] + ("0" if query["signature"][-1] != "0" else "1")
    for altered in (
        f"/invoices/invoices/other/1.pdf?{parts.query}",
        f"{parts.path}?{urlencode(later)}",
        f"{parts.path}?{urlencode({**query, 'signature': flipped})}",
        parts.path,
        f"{parts.path}?{urlencode({**query, 'signature': 'ä' * 64})}",
    ):
        refused = await api.http.get(altered)
        assert refused.status_code == 403, (altered, refused.text)
        assert refused.json()["error"] == "invoice_link_invalid"
        assert b"PDF" not in refused.content


async def test_r5_an_expired_link_is_refused(api: Api) -> None:
    """R5: a link signed with the program's key whose second of life has passed: 410."""
    store = local_store(api)
    store.put(KEY, PDF, "application/pdf")
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    settings = api.services.settings
    signed_earlier = InvoiceLinks(
        settings.public_base_url, link_key(settings.payload_keys[0]), clock=lambda: an_hour_ago
    )

    expired = await api.http.get(path_of(signed_earlier.url(KEY, timedelta(seconds=1))))

    assert expired.status_code == 410, expired.text
    assert expired.json()["error"] == "invoice_link_expired"


def test_r5_a_link_lives_until_its_expiry_and_not_a_second_longer() -> None:
    """R5: with an injected clock: valid in its last second, refused at its expiry."""
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    clock = [now]
    links = InvoiceLinks("https://cashback.example", b"k" * 32, clock=lambda: clock[0])
    query = parse_qs(urlsplit(links.url(KEY, timedelta(minutes=10))).query)
    expires, signature = int(query["expires"][0]), query["signature"][0]

    clock[0] = now + timedelta(minutes=9, seconds=59)
    links.check(KEY, expires, signature)
    clock[0] = now + timedelta(minutes=10)
    with pytest.raises(ExpiredInvoiceLink):
        links.check(KEY, expires, signature)


async def test_r5_the_web_uis_claim_details_open_the_invoice_for_a_signed_in_operator(
    api: Api,
) -> None:
    """R5, R13: a claim's details in the Temporal Web UI link to the claim in the API and to
    `/codec/claims/{id}/invoice`, which sends an operator signed in in this browser (the codec
    session) on to a short-lived link of the invoice; without the session: 401."""
    reseller = await api.register()
    offer = await api.create_offer()
    claim_id = await submitted(api, reseller, offer["offer_id"], new_agreement())
    handle = api.services.temporal.get_workflow_handle(claim_workflow_id(claim_id))
    details = await (await handle.describe()).static_details()
    assert details is not None
    assert f"http://testserver/operator/claims/{claim_id}" in details
    assert f"http://testserver/codec/claims/{claim_id}/invoice" in details

    refused = await api.http.get(f"/codec/claims/{claim_id}/invoice")
    assert refused.status_code == 401
    create_operator(api.services.database, "ops-invoice@program.example", PASSWORD)
    opened = await api.http.post(
        "/auth/session", data={"username": "ops-invoice@program.example", "password": PASSWORD}
    )
    assert opened.status_code == 204
    sent_on = await api.http.get(f"/codec/claims/{claim_id}/invoice")
    assert sent_on.status_code == 303
    invoice = await api.http.get(path_of(sent_on.headers["location"]))
    assert invoice.status_code == 200
    assert invoice.content.startswith(b"%PDF-")
    api.http.cookies.clear()
    await terminate_all(api)
