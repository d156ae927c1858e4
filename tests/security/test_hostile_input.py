"""Hostile and malformed submissions (R5) are refused with a clear 4xx before anything is stored:
no claim row, no invoice in the store, no workflow (a valid control claim at the end shows the
count of workflows does see one). Covered:

- uploads that lie about their type: a PNG, a ZIP and an HTML page named invoice.pdf and sent
  as application/pdf (and a PDF sent as a PNG);
- a zip bomb (3 MB expanding to 3 GiB) and a gzip-encoded body (Content-Encoding: gzip, a gzip
  bomb of 1 GiB): never unpacked;
- bodies beyond the cap (10 MB invoice, 10 MB + 64 KB request): with an honest Content-Length,
  with a Content-Length that lies (small, with an 11 MB body behind it), chunked without any
  length; in the app (ASGI) and through a real uvicorn server on loopback.

Each test prints what it sent and what came back.
"""

from __future__ import annotations

import asyncio
import gzip
import io
import json
import socket
import threading
import zipfile
from collections.abc import AsyncIterator, Callable, Iterator, MutableMapping
from typing import Any

import httpx
import pytest

from api.claims import MAX_INVOICE_BYTES, MAX_SUBMISSION_BYTES
from cashback.claims import claim_workflow_id
from tests.api.claims_helpers import (
    PNG_1X1,
    claim_fields,
    claim_rows,
    invoice_pdf,
    new_agreement,
    stored_invoices,
    submit,
    terminate_all,
    wait_for_workflows,
)
from tests.api.harness import Api, Reseller
from tests.api.test_schema import serving
from tests.security.hostile import (
    MIB,
    gzip_bomb,
    multipart,
    nothing_stored,
    oversized_form,
    zip_bomb,
)

pytestmark = pytest.mark.security

HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"


def small_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("invoice.pdf", invoice_pdf())
    return buffer.getvalue()


async def control_claim(api: Api, reseller: Reseller, offer_id: str) -> None:
    """A valid claim after the refused ones: it is stored and its workflow is seen, and it is the
    only claim, invoice and workflow there is."""
    response = await submit(api, reseller, offer_id, new_agreement())
    assert response.status_code == 201, response.text
    claim_id = response.json()["claim_id"]
    assert [row.id for row in claim_rows(api)] == [claim_id]
    assert len(stored_invoices(api)) == 1
    assert await wait_for_workflows(api, 1) == [claim_workflow_id(claim_id)]
    await terminate_all(api)


@pytest.fixture
async def offer_and_reseller(api: Api) -> tuple[str, Reseller]:
    offer = await api.create_offer()
    return offer["offer_id"], await api.register()


async def test_r5_uploads_that_lie_about_their_type_are_refused(
    api: Api, offer_and_reseller: tuple[str, Reseller]
) -> None:
    """R5: a PNG, a ZIP and an HTML page named invoice.pdf and sent as application/pdf, and a
    PDF named invoice.png sent as image/png: each 415 with a clear reason; nothing stored."""
    offer_id, reseller = offer_and_reseller
    cases = {
        "PNG as invoice.pdf, application/pdf": (PNG_1X1, "invoice.pdf", "application/pdf"),
        "ZIP as invoice.pdf, application/pdf": (small_zip(), "invoice.pdf", "application/pdf"),
        "HTML as invoice.pdf, application/pdf": (HTML, "invoice.pdf", "application/pdf"),
        "PDF as invoice.png, image/png": (invoice_pdf(), "invoice.png", "image/png"),
        "PDF as invoice.pdf, image/jpeg": (invoice_pdf(), "invoice.pdf", "image/jpeg"),
    }
    for name, (data, filename, content_type) in cases.items():
        response = await submit(
            api,
            reseller,
            offer_id,
            new_agreement(),
            invoice=data,
            filename=filename,
            content_type=content_type,
        )
        body = response.json()
        print(f"{name}: {response.status_code} {body['error']}: {body['detail']}")
        assert response.status_code == 415, (name, response.text)
        assert body["error"] in {"invoice_type_mismatch", "invoice_type_unsupported"}
        assert "R5" in body["detail"]
    await nothing_stored(api)
    await control_claim(api, reseller, offer_id)


async def test_r5_a_zip_bomb_and_a_gzip_encoded_body_are_refused_unopened(
    api: Api, offer_and_reseller: tuple[str, Reseller]
) -> None:
    """R5: a zip bomb (a few MB that inflate to GiBs) as invoice.pdf is refused for its content
    (415), never inflated; a body sent with Content-Encoding: gzip (a valid form, and a gzip
    bomb) is refused as it arrives (415): the app decodes no compressed body."""
    offer_id, reseller = offer_and_reseller
    bomb = zip_bomb()
    inflated = sum(entry.file_size for entry in zipfile.ZipFile(io.BytesIO(bomb)).infolist())
    assert len(bomb) < MAX_INVOICE_BYTES < inflated
    for filename, content_type in (
        ("invoice.pdf", "application/pdf"),
        ("x.zip", "application/zip"),
    ):
        response = await submit(
            api,
            reseller,
            offer_id,
            new_agreement(),
            invoice=bomb,
            filename=filename,
            content_type=content_type,
        )
        print(
            f"zip bomb of {len(bomb) / MIB:.1f} MiB inflating to {inflated / 2**30:.1f} GiB as "
            f"{filename} ({content_type}): {response.status_code} {response.json()['error']}"
        )
        assert response.status_code == 415, response.text
        assert response.json()["error"] == "invoice_type_unsupported"

    form, form_type = multipart(
        claim_fields(offer_id, new_agreement()), "invoice.pdf", invoice_pdf(), "application/pdf"
    )
    bodies = {"a gzip-encoded valid form": gzip.compress(form), "a gzip bomb": gzip_bomb()}
    for name, body in bodies.items():
        response = await api.http.post(
            "/claims",
            content=body,
            headers={
                **reseller.headers,
                "Content-Type": form_type,
                "Content-Encoding": "gzip",
            },
        )
        print(
            f"{name} ({len(body) / MIB:.2f} MiB, Content-Encoding: gzip): "
            f"{response.status_code} {response.json()['error']}"
        )
        assert response.status_code == 415, response.text
        assert response.json()["error"] == "content_encoding_unsupported"
    await nothing_stored(api)
    await control_claim(api, reseller, offer_id)


# ---- bodies beyond the cap ------------------------------------------------------------------


async def asgi_post(
    api: Api, headers: dict[str, str], chunks: list[bytes]
) -> tuple[int, dict[str, Any]]:
    """POST /claims straight into the app (ASGI), with exactly these headers, whatever they
    declare, and the body in `chunks`; the status and the JSON answer."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/claims",
        "raw_path": b"/claims",
        "root_path": "",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
    }
    pending = list(chunks)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if pending:
            return {"type": "http.request", "body": pending.pop(0), "more_body": bool(pending)}
        await asyncio.sleep(3600)  # the client waits for the answer
        return {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(dict(message))

    await api.app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return int(start["status"]), json.loads(body)


def raw_http(port: int, head: bytes, body: Callable[[], Iterator[bytes]]) -> str:
    """Send a request as raw bytes to the server on `port` (the body from another thread, as
    long as the server reads), and answer the status line of the first response."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as connection:

        def send_all() -> None:
            try:
                connection.sendall(head)
                for chunk in body():
                    connection.sendall(chunk)
            except OSError:
                pass  # the server answered and closed while the body was still coming

        sender = threading.Thread(target=send_all, daemon=True)
        sender.start()
        received = b""
        while b"\r\n" not in received:
            data = connection.recv(4096)
            if not data:
                break
            received += data
        sender.join(timeout=60)
    return received.split(b"\r\n", 1)[0].decode()


@pytest.fixture
async def server(api: Api) -> AsyncIterator[int]:
    """The app on a real uvicorn server on loopback; its port."""
    async with serving(api) as base_url:
        yield int(base_url.rsplit(":", 1)[1])


async def test_r5_bodies_beyond_the_cap_are_refused_however_they_arrive(
    api: Api, offer_and_reseller: tuple[str, Reseller], server: int
) -> None:
    """R5: an invoice over 10 MB (413); a request over the cap with an honest Content-Length
    (413 before a byte of it is read); with a lying one (a small Content-Length, 11 MB sent:
    the app counts what arrives, 413; uvicorn reads only the declared bytes, 4xx); chunked
    without a length (413, in the app and through uvicorn). Nothing is stored."""
    offer_id, reseller = offer_and_reseller
    results: list[str] = []

    big_invoice = b"%PDF-" + bytes(MAX_INVOICE_BYTES)
    response = await submit(api, reseller, offer_id, new_agreement(), invoice=big_invoice)
    results.append(f"invoice of {len(big_invoice)} bytes: {response.status_code}")
    assert response.status_code == 413, response.text
    assert response.json()["error"] == "invoice_too_large"

    over = MAX_SUBMISSION_BYTES + MIB
    form_type = "multipart/form-data; boundary=xyz"
    base = {**reseller.headers, "content-type": form_type}
    fields = claim_fields(offer_id, new_agreement())

    def chunks() -> Iterator[bytes]:
        return oversized_form(fields, over, "xyz")

    honest = await asgi_post(
        api,
        {**base, "content-length": str(over)},
        [b"--xyz\r\n"],  # refused before the body
    )
    results.append(f"Content-Length {over} (honest, body not even sent): {honest[0]}")
    assert honest[0] == 413
    assert honest[1]["error"] == "invoice_too_large"

    lying = await asgi_post(api, {**base, "content-length": "1000"}, list(chunks()))
    results.append(f"Content-Length 1000 with {over} bytes behind it (ASGI): {lying[0]}")
    assert lying[0] == 413

    chunked = await asgi_post(api, {**base, "transfer-encoding": "chunked"}, list(chunks()))
    results.append(f"chunked, {over} bytes, no length (ASGI): {chunked[0]}")
    assert chunked[0] == 413

    def head(extra: str) -> bytes:
        return (
            f"POST /claims HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {reseller.token}\r\nContent-Type: {form_type}\r\n{extra}\r\n"
        ).encode()

    def chunked_body() -> Iterator[bytes]:
        for chunk in chunks():
            yield b"%x\r\n%s\r\n" % (len(chunk), chunk)
        yield b"0\r\n\r\n"

    status = await asyncio.to_thread(raw_http, server, head(f"Content-Length: {over}\r\n"), chunks)
    results.append(f"uvicorn, Content-Length {over} (honest): {status}")
    assert status.split()[1] == "413", status
    status = await asyncio.to_thread(raw_http, server, head("Content-Length: 65536\r\n"), chunks)
    results.append(f"uvicorn, Content-Length 65536 with {over} bytes behind it: {status}")
    assert 400 <= int(status.split()[1]) < 500, status
    status = await asyncio.to_thread(
        raw_http, server, head("Transfer-Encoding: chunked\r\n"), chunked_body
    )
    results.append(f"uvicorn, chunked, {over} bytes: {status}")
    assert status.split()[1] == "413", status

    print("\n".join(results))
    await nothing_stored(api)
    await control_claim(api, reseller, offer_id)


async def test_a_malformed_multipart_body_is_a_clear_422(
    api: Api, offer_and_reseller: tuple[str, Reseller]
) -> None:
    """A body that is not the multipart form it says it is (a broken boundary, a form cut
    short, JSON sent as a form): 422 in the one error format, never a 5xx; nothing stored."""
    offer_id, reseller = offer_and_reseller
    form, form_type = multipart(
        claim_fields(offer_id, new_agreement()), "invoice.pdf", invoice_pdf(), "application/pdf"
    )
    # A form cut short before its file part is a well-formed form without the invoice (R5).
    bodies = {
        "cut short": (form[: len(form) // 2], form_type, "invoice_missing"),
        "another boundary": (form, "multipart/form-data; boundary=not-the-one", "invalid_request"),
        "JSON as a form": (b'{"offer_id": "x"}', form_type, "invalid_request"),
        "no boundary": (form, "multipart/form-data", "invalid_request"),
    }
    for name, (body, content_type, error) in bodies.items():
        response = await api.http.post(
            "/claims", content=body, headers={**reseller.headers, "Content-Type": content_type}
        )
        print(f"{name}: {response.status_code} {response.text}")
        assert response.status_code == 422, (name, response.text)
        assert set(response.json()) == {"error", "detail"}
        assert response.json()["error"] == error, (name, response.text)
    await nothing_stored(api)
    await control_claim(api, reseller, offer_id)


async def test_an_http_client_sees_the_same_refusals(
    api: Api, offer_and_reseller: tuple[str, Reseller], server: int
) -> None:
    """Through uvicorn with httpx: a lying PNG is 415 there too (the answer is the app's)."""
    offer_id, reseller = offer_and_reseller
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server}") as client:
        response = await client.post(
            "/claims",
            data=claim_fields(offer_id, new_agreement()),
            files={"invoice": ("invoice.pdf", PNG_1X1, "application/pdf")},
            headers=reseller.headers,
        )
    print(f"PNG as invoice.pdf through uvicorn: {response.status_code} {response.json()}")
    assert response.status_code == 415
    await nothing_stored(api)
