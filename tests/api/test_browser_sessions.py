"""R13: the operator's browser session (the cookie of `POST /auth/session`) opens the codec
endpoints only; a state-changing request a browser sends from another site with it is refused on
every route of the app (walked from `app.routes`, so a route added later is covered too); CORS
is answered for the codec only; signing in into a cookie from another site is refused."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from api.accounts import create_operator
from api.browser import SESSION_COOKIE
from api.deps import _codec_reader, _codec_user, _signed_in
from cashback.db import LicensingRepository
from tests.api.harness import PASSWORD, Api

STATE_CHANGING = ("POST", "PUT", "PATCH", "DELETE")
FOREIGN = "https://evil.example"
EMPTY: dict[str, list[Any]] = {"payloads": []}
WEB_UI = "http://127.0.0.1:8233"  # a codec CORS origin of the default settings
CSV = (
    b"agreement_number,customer_name,customer_segment,customer_country,reseller_name,"
    b"sale_date,product,licence_type,quantity\n"
    b"OL-CSRF-1,Fabrikam AG,commercial,DE,Contoso Software GmbH,2026-01-15,Office,new,10\n"
)


def routes(api: Api, methods: tuple[str, ...]) -> Iterator[tuple[str, str, APIRoute]]:
    """Every (method, concrete path, route) of the app for `methods`, from `app.routes` (with
    the included routers' routes flattened); path parameters as 'x'."""
    for context in iter_route_contexts(api.app.routes):
        route = context.route
        if isinstance(route, APIRoute):
            path = re.sub(r"\{[^}]+\}", "x", context.path or route.path)
            for method in sorted((context.methods or set()) & set(methods)):
                yield method, path, route


def depends_on(dependant: Dependant, call: Callable[..., Any]) -> bool:
    return any(sub.call is call or depends_on(sub, call) for sub in dependant.dependencies)


async def browser_session(api: Api, email: str) -> str:
    create_operator(api.services.database, email, PASSWORD)
    opened = await api.http.post("/auth/session", data={"username": email, "password": PASSWORD})
    assert opened.status_code == 204, opened.text
    api.http.cookies.clear()  # each request below sends exactly the headers it names
    return opened.cookies[SESSION_COOKIE]


async def test_r13_a_cookie_write_from_another_site_is_refused_on_every_route(api: Api) -> None:
    """R13: on every POST/PUT/PATCH/DELETE route, an operator's cookie sent from a foreign
    Origin (or with Sec-Fetch-Site: cross-site) is refused with 403 `cross_site_request`, before
    the route runs: the licensing-record import of the finding imports nothing."""
    cookie = await browser_session(api, "ops-csrf@program.example")
    walked = list(routes(api, STATE_CHANGING))
    assert ("POST", "/operator/licensing-records/import") in {(m, p) for m, p, _ in walked}
    assert ("POST", "/operator/claims/x/decision") in {(m, p) for m, p, _ in walked}
    refused: list[str] = []
    for method, path, _ in walked:
        for browser in ({"Origin": FOREIGN}, {"Sec-Fetch-Site": "cross-site"}):
            headers = {"Cookie": f"{SESSION_COOKIE}={cookie}", **browser}
            if path == "/operator/licensing-records/import":
                response = await api.http.request(
                    method, path, headers=headers, files={"file": ("r.csv", CSV, "text/csv")}
                )
            else:
                response = await api.http.request(method, path, headers=headers, json={})
            assert response.status_code == 403, (method, path, browser, response.text)
            assert response.json()["error"] == "cross_site_request", (method, path)
            refused.append(f"{method} {path}")
    with api.services.database.reading() as session:
        assert LicensingRepository(session).find_agreement("OL-CSRF-1") is None
    print(f"{len(walked)} state-changing routes, each refused twice:", *sorted(set(refused)))


async def test_r13_only_the_codec_accepts_the_cookie(api: Api) -> None:
    """R13: only the codec endpoints read the session cookie; every other route that needs a
    signed-in user answers 401 to the cookie alone, even from the Web UI's own origin, while
    the codec decodes for it."""
    cookie = await browser_session(api, "ops-only-codec@program.example")
    every = list(routes(api, ("GET", *STATE_CHANGING)))
    cookie_readers = {
        path
        for _, path, route in every
        if any(depends_on(route.dependant, reader) for reader in (_codec_user, _codec_reader))
    }
    assert cookie_readers == {
        "/codec/decode",
        "/codec/encode",
        "/codec/session",
        "/codec/claims/x/invoice",  # the invoice link of the Web UI's claim details
    }
    guarded = [(m, p) for m, p, route in every if depends_on(route.dependant, _signed_in)]
    assert len(guarded) > 10
    for method, path in guarded:
        response = await api.http.request(
            method,
            path,
            headers={"Cookie": f"{SESSION_COOKIE}={cookie}", "Origin": WEB_UI},
            json={},
        )
        assert response.status_code == 401, (method, path, response.text)
    decoded = await api.http.post(
        "/codec/decode",
        json={"payloads": []},
        headers={"Cookie": f"{SESSION_COOKIE}={cookie}", "Origin": WEB_UI},
    )
    assert decoded.status_code == 200, decoded.text
    assert decoded.headers["access-control-allow-origin"] == WEB_UI
    assert decoded.headers["access-control-allow-credentials"] == "true"
    print(f"{len(guarded)} signed-in routes refuse the cookie; the codec takes it")


async def test_cors_is_answered_for_the_codec_only(api: Api) -> None:
    """The Web UI's origin passes the codec's preflight; no other path answers CORS, and a
    foreign origin gets no CORS permission from the codec either."""
    preflight = {"Access-Control-Request-Method": "POST"}
    codec = await api.http.options("/codec/decode", headers={"Origin": WEB_UI, **preflight})
    assert codec.headers["access-control-allow-origin"] == WEB_UI
    for path in ("/operator/licensing-records/import", "/claims", "/auth/token"):
        other = await api.http.options(path, headers={"Origin": WEB_UI, **preflight})
        assert "access-control-allow-origin" not in other.headers, path
    foreign = await api.http.options("/codec/decode", headers={"Origin": FOREIGN, **preflight})
    assert "access-control-allow-origin" not in foreign.headers


async def test_r13_signing_in_to_a_cookie_from_another_site_is_refused(api: Api) -> None:
    """R13 (login CSRF): `POST /auth/session` from a foreign Origin or with Sec-Fetch-Site:
    cross-site is refused without a cookie; from the API's own origin it signs in, into an
    HttpOnly, SameSite=Strict cookie for /codec only; `DELETE /codec/session` ends it."""
    create_operator(api.services.database, "ops-login@program.example", PASSWORD)
    form = {"username": "ops-login@program.example", "password": PASSWORD}
    for browser in (
        {"Origin": FOREIGN},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site", "Origin": "https://sibling.testserver"},
        {"Origin": "null"},
    ):
        refused = await api.http.post("/auth/session", data=form, headers=browser)
        assert refused.status_code == 403, browser
        assert refused.json()["error"] == "cross_site_request"
        assert "set-cookie" not in refused.headers
    for browser in ({"Origin": "http://testserver"}, {"Sec-Fetch-Site": "same-origin"}, {}):
        opened = await api.http.post("/auth/session", data=form, headers=browser)
        assert opened.status_code == 204, (browser, opened.text)
    set_cookie = opened.headers["set-cookie"].lower()
    assert "httponly" in set_cookie
    assert "samesite=strict" in set_cookie
    assert "path=/codec" in set_cookie
    cookie = {"Cookie": f"{SESSION_COOKIE}={opened.cookies[SESSION_COOKIE]}"}
    api.http.cookies.clear()
    assert (await api.http.post("/codec/decode", json=EMPTY, headers=cookie)).status_code == 200
    closed = await api.http.delete("/codec/session", headers=cookie)
    assert closed.status_code == 204
    assert "max-age=0" in closed.headers["set-cookie"].lower()
    assert (await api.http.post("/codec/decode", json=EMPTY, headers=cookie)).status_code == 401
