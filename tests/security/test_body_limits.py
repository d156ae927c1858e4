"""Request bodies are capped on every route (64 KiB for JSON and forms; a claim with its invoice
10 MB + 64 KiB, the licensing-record import 5 MB + 64 KiB, the codec 4 MiB), whether the
Content-Length is honest, lying or absent (chunked): 413 in the one error format, answered
early, with nothing beyond the cap read. Every route is walked from `app.routes`, so a route
added later is covered too. A 300 MB body leaves the API's memory as it was."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
import tracemalloc
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import params
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from api.app import BODY_CAPS
from api.limits import DEFAULT_CAP, BodyCap
from tests.api.harness import Api
from tests.api.test_schema import serving

pytestmark = pytest.mark.security

KIB = 1024
MIB = 1024 * KIB
CHUNK = b"\x20" * (64 * KIB)  # made once: the body's bytes are not what is measured
FILE_PART = b'--x\r\nContent-Disposition: form-data; name="file"; filename="f"\r\n\r\n'


@dataclass
class Answer:
    status: int
    body: dict[str, Any]
    chunks_read: int  # how many chunks of the body the app asked for


def body_fields(dependant: Dependant) -> list[Any]:
    """The field infos of every body parameter of a route, its dependencies' included."""
    found = [param.field_info for param in dependant.body_params]
    for sub in dependant.dependencies:
        found += body_fields(sub)
    return found


def state_changing_routes(api: Api) -> list[tuple[str, str, str]]:
    """(method, path, the content type the route reads) of every route that takes a body; path
    parameters as 'x'."""
    found = []
    for context in iter_route_contexts(api.app.routes):
        route = context.route
        if isinstance(route, APIRoute):
            path = re.sub(r"\{[^}]+\}", "x", context.path or route.path)
            body = body_fields(route.dependant)
            if not body:
                kind = ""  # the route reads no body
            elif any(isinstance(info, params.File) for info in body):
                kind = "multipart/form-data; boundary=x"
            elif any(isinstance(info, params.Form) for info in body):
                kind = "application/x-www-form-urlencoded"
            else:
                kind = "application/json"
            methods = sorted(set(context.methods or ()) - {"GET", "HEAD"})
            found += [(method, path, kind) for method in methods]
    return found


async def asgi_request(
    api: Api,
    method: str,
    path: str,
    headers: dict[str, str],
    body_bytes: int,
    root_path: str = "",
) -> Answer:
    """`method path` straight into the app (ASGI) with exactly these headers, whatever they
    declare, and a body of `body_bytes` made chunk by chunk only as the app reads it."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": root_path + path,
        "raw_path": (root_path + path).encode(),
        "root_path": root_path,
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
    }
    chunks = -(-body_bytes // len(CHUNK))
    read = 0
    sent: list[dict[str, Any]] = []
    # A multipart body opens a file part, so that the parser goes on reading it.
    first = FILE_PART + CHUNK[len(FILE_PART) :] if "multipart" in str(headers) else CHUNK

    async def receive() -> dict[str, Any]:
        nonlocal read
        if read < chunks:
            read += 1
            body = first if read == 1 else CHUNK
            return {"type": "http.request", "body": body, "more_body": read < chunks}
        await asyncio.sleep(3600)  # the client waits for the answer
        return {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(dict(message))

    await api.app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    # A redirect (the codec's sign-out page) answers without a body; the portal answers a page
    # naming its problem (`data-problem`), read here like the API's error format.
    if body.startswith(b"<!DOCTYPE html>"):
        problem = re.search(rb'data-problem="([a-z_]+)"', body)
        page = {"error": problem.group(1).decode(), "detail": "(a page)"} if problem else {}
        return Answer(int(start["status"]), page, read)
    return Answer(int(start["status"]), json.loads(body) if body else {}, read)


def refused(answer: Answer, cap: BodyCap) -> bool:
    return (
        answer.status == 413
        and set(answer.body) == {"error", "detail"}
        and answer.body["error"] == cap.error
    )


async def test_every_route_caps_its_body_however_it_arrives(api: Api) -> None:
    """On every POST/PUT/PATCH/DELETE route: a Content-Length over the route's cap is refused
    before a byte is read; a chunked body and one longer than its Content-Length are refused
    once they pass the cap (the app reads at most one chunk beyond it), or never read at all by
    a route that takes no body; a body within the default cap is not refused for its size."""
    routes = state_changing_routes(api)
    assert ("POST", "/auth/register", "application/json") in routes
    assert set(BODY_CAPS) <= {(m, p) for m, p, _ in routes}  # each special cap names a route
    lines = []
    for method, path, kind in routes:
        cap = BODY_CAPS.get((method, path), DEFAULT_CAP)
        over = cap.max_bytes + 1
        json_type = {"content-type": kind, "host": "testserver"}

        honest = await asgi_request(
            api, method, path, {**json_type, "content-length": str(over)}, over
        )
        assert refused(honest, cap), (method, path, honest)
        assert honest.chunks_read == 0, (method, path)

        chunked = await asgi_request(api, method, path, json_type, 2 * over)
        lying = await asgi_request(api, method, path, {**json_type, "content-length": "100"}, over)
        for answer in (chunked, lying):
            if kind:
                assert refused(answer, cap), (method, path, answer)
                assert answer.chunks_read <= cap.max_bytes // len(CHUNK) + 1, (method, path)
            else:  # a route that takes no body never reads one: nothing to refuse
                assert answer.chunks_read == 0, (method, path, answer)
        lines.append(f"{method} {path} ({kind}): cap {cap.max_bytes} B, {cap.error}")
    within = await asgi_request(
        api, "POST", "/auth/register", {"content-type": "application/json"}, 60 * KIB
    )
    assert within.status == 422, within  # read whole and found to be no JSON: not a size refusal
    behind_a_proxy = await asgi_request(  # mounted under /api: the claim's own cap still applies
        api,
        "POST",
        "/claims",
        {"content-type": "multipart/form-data; boundary=x", "content-length": str(MIB)},
        MIB,
        root_path="/api",
    )
    assert behind_a_proxy.status == 401, behind_a_proxy  # past the cap, to the sign-in check
    print(f"{len(routes)} routes:", *lines, sep="\n  ")


def rss_bytes() -> int:
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmRSS:"))
    return int(line.split()[1]) * 1024


async def test_a_300_mb_body_is_refused_early_and_leaves_memory_as_it_was(api: Api) -> None:
    """The finding: one 300 MB JSON body to /auth/register grew the API from 208 to 840 MB. Now,
    in the app (ASGI) and through a real uvicorn server, honest, lying or chunked, it is
    refused with 413 after at most the cap plus a chunk, and the memory Python allocates for
    it (tracemalloc, all threads) stays under 2 MB at its peak."""
    size = 300 * MIB
    json_type = {"content-type": "application/json"}
    results = []
    tracemalloc.start()
    try:
        for name, headers in (
            ("honest Content-Length", {**json_type, "content-length": str(size)}),
            ("lying Content-Length", {**json_type, "content-length": "100"}),
            ("chunked", json_type),
        ):
            tracemalloc.reset_peak()
            before = tracemalloc.get_traced_memory()[0]
            answer = await asgi_request(api, "POST", "/auth/register", headers, size)
            peak = tracemalloc.get_traced_memory()[1] - before
            results.append(
                f"ASGI, {name}: {answer.status}, {answer.chunks_read * 64} KiB read, "
                f"peak {peak / KIB:.0f} KiB"
            )
            assert refused(answer, DEFAULT_CAP), answer
            assert answer.chunks_read <= 2
            assert peak < 2 * MIB, results[-1]
    finally:
        tracemalloc.stop()

    async with serving(api) as base_url:
        port = int(base_url.rsplit(":", 1)[1])
        rss_before = rss_bytes()
        for name, framing in (
            ("honest Content-Length", f"Content-Length: {size}\r\n"),
            ("chunked", "Transfer-Encoding: chunked\r\n"),
        ):
            head = (
                f"POST /auth/register HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Content-Type: application/json\r\n{framing}\r\n"
            ).encode()
            status, sent = await asyncio.to_thread(post_raw, port, head, size, "chunked" in name)
            results.append(
                f"uvicorn, {name}: {status}, {sent / MIB:.1f} MB sent before the server closed"
            )
            assert status.split()[1] == "413", status
            assert sent < 64 * MIB  # refused early: the client could not send the rest
        grown = rss_bytes() - rss_before
        results.append(f"uvicorn: resident memory grew {grown / MIB:.1f} MB")
        assert grown < 32 * MIB  # was 632 MB; the sockets' buffers are the rest
    print("\n".join(results))


def post_raw(port: int, head: bytes, size: int, chunked: bool) -> tuple[str, int]:
    """Send `head` and up to `size` body bytes (as long as the server takes them); the first
    response's status line, and the body bytes sent."""
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=60) as connection:

        def send_all() -> None:
            nonlocal sent
            try:
                connection.sendall(head)
                while sent < size:
                    connection.sendall(b"%x\r\n%s\r\n" % (len(CHUNK), CHUNK) if chunked else CHUNK)
                    sent += len(CHUNK)
                if chunked:
                    connection.sendall(b"0\r\n\r\n")
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
    return received.split(b"\r\n", 1)[0].decode(), sent
