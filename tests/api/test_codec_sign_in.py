"""R13: operators sign in for the codec on a page under the cookie's path (/codec/sign-in), in
German and English; it says who is signed in until when and the Web UI's codec settings; the
codec's 401 names the page; a sign-in from another site is refused (login CSRF)."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

from temporalio.api.common.v1 import Payload

from api.accounts import create_operator
from api.bank_details import SECURITY_HEADERS
from api.browser import SESSION_COOKIE
from cashback.wiring import payload_codec
from tests.api.harness import PASSWORD, Api
from tests.api.test_codec import as_json

PAGE = "/codec/sign-in"


def new_operator(api: Api) -> str:
    email = f"ops-{uuid.uuid4().hex[:6]}@program.example"
    create_operator(api.services.database, email, PASSWORD)
    return email


async def test_r13_the_page_signs_an_operator_in_and_out(api: Api) -> None:
    """R13: not signed in, the page offers the form and the codec settings; signing in sets the
    HttpOnly cookie on /codec and the page names the operator; the cookie then opens the
    codec; signing out ends the session at once."""
    email = new_operator(api)
    first = await api.http.get(PAGE, params={"lang": "en"})
    assert first.status_code == 200
    for header, value in SECURITY_HEADERS.items():
        assert first.headers[header] == value
    assert 'data-signed-in="false"' in first.text
    assert "http://testserver/codec</code>" in first.text
    assert "Include cross-origin credentials" in first.text

    signed_in = await api.http.post(
        PAGE + "?lang=en", data={"username": email, "password": PASSWORD}
    )
    assert signed_in.status_code == 303
    cookie = signed_in.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "Path=/codec" in cookie
    assert "samesite=strict" in cookie.lower()
    page = await api.http.get(signed_in.headers["location"].replace("sign-in", PAGE, 1))
    assert f'id="signed-in-as">{email}</strong>' in page.text
    assert 'id="signed-in-until"' in page.text
    assert (await api.http.post("/codec/decode", json={"payloads": []})).status_code == 200

    signed_out = await api.http.post("/codec/sign-out?lang=en")
    assert signed_out.status_code == 303
    refused = await api.http.post(
        "/codec/decode",
        json={"payloads": []},
        headers={"Cookie": f"{SESSION_COOKIE}={signed_in.cookies[SESSION_COOKIE]}"},
    )
    assert refused.status_code == 401
    assert 'data-signed-in="false"' in (await api.http.get(PAGE)).text


async def test_r13_a_wrong_password_is_shown_on_the_page_in_german(api: Api) -> None:
    """R13: a wrong password answers 401 with the German page saying so, and no cookie."""
    email = new_operator(api)
    wrong = await api.http.post(
        PAGE + "?lang=de", data={"username": email, "password": "not-the-password-1"}
    )
    assert wrong.status_code == 401
    assert "Falsche E-Mail-Adresse oder falsches Passwort." in wrong.text
    assert SESSION_COOKIE not in wrong.cookies
    assert "Codec-Server-Endpunkt" in wrong.text


async def test_r13_the_codec_401_says_where_to_sign_in(api: Api) -> None:
    """R13: without a session the codec answers 401 naming the sign-in page."""
    refused = await api.http.post("/codec/decode", json={"payloads": []})
    assert refused.status_code == 401
    assert "http://testserver/codec/sign-in" in refused.json()["detail"]


async def test_r13_signing_in_on_the_page_from_another_site_is_refused(api: Api) -> None:
    """R13: login CSRF: a form another site posts to the page is refused before it signs in."""
    email = new_operator(api)
    forged = await api.http.post(
        PAGE,
        data={"username": email, "password": PASSWORD},
        headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
    )
    assert forged.status_code == 403
    assert forged.json()["error"] == "cross_site_request"
    assert SESSION_COOKIE not in forged.cookies


WEB_UI = "http://127.0.0.1:8233"  # an origin of CASHBACK_CODEC_CORS_ORIGINS (the default's)
SIGN_IN = {
    "sign_in": "Sign in at http://testserver/codec/sign-in to read this claim's data (with "
    "“Include cross-origin credentials” on in the Web UI's Codec Server settings)"
}


def shown_by_the_web_ui(answer: dict[str, list[dict[str, Any]]]) -> list[Any]:
    """What the Web UI displays of each decoded payload: its JSON (encoding json/plain)."""
    shown = []
    for payload in answer["payloads"]:
        assert base64.b64decode(payload["metadata"]["encoding"]) == b"json/plain"
        shown.append(json.loads(base64.b64decode(payload["data"])))
    return shown


async def sealed_payloads(api: Api) -> dict[str, list[dict[str, object]]]:
    plain = [
        Payload(metadata={"encoding": b"json/plain"}, data=b'{"holder_name":"Contoso"}'),
        Payload(metadata={"encoding": b"json/plain"}, data=b'"Office 2026 Cash Back"'),
    ]
    sealed = await payload_codec(api.services.settings).encode(plain)
    return {"payloads": [as_json(payload) for payload in sealed]}


async def test_r13_the_web_ui_signed_out_shows_where_to_sign_in(api: Api) -> None:
    """R13: the Web UI's decode request (its origin, no session: signed out or expired) is
    answered 200 with every payload replaced by a readable JSON payload naming the sign-in
    page, which the UI shows instead of "Codec Server could not connect"; nothing decrypted."""
    body = await sealed_payloads(api)
    answer = await api.http.post("/codec/decode", json=body, headers={"Origin": WEB_UI})
    assert answer.status_code == 200, answer.text
    assert answer.headers["access-control-allow-origin"] == WEB_UI
    assert answer.headers["cache-control"] == "no-store"
    assert shown_by_the_web_ui(answer.json()) == [SIGN_IN, SIGN_IN]
    assert "Contoso" not in answer.text
    assert "Office" not in answer.text
    assert base64.b64encode(b'{"holder_name":"Contoso"}').decode() not in answer.text


async def test_r13_a_resellers_session_in_the_web_ui_is_told_it_is_for_operators(
    api: Api,
) -> None:
    """R13: a reseller signed in in the browser reads no claim data in the Web UI either: the
    payloads say that only operators do, and where they sign in."""
    reseller = await api.register()
    opened = await api.http.post(
        "/auth/session", data={"username": reseller.email, "password": PASSWORD}
    )
    assert opened.status_code == 204
    answer = await api.http.post(
        "/codec/decode", json=await sealed_payloads(api), headers={"Origin": WEB_UI}
    )
    assert answer.status_code == 200, answer.text
    message = "Only the program's operators read claim data: sign in as an operator at "
    assert (
        shown_by_the_web_ui(answer.json())
        == [{"sign_in": message + "http://testserver/codec/sign-in"}] * 2
    )
    assert "Contoso" not in answer.text


async def test_r13_clients_other_than_the_web_ui_keep_getting_401(api: Api) -> None:
    """R13: the CLI (no Origin) and a page of another origin are refused 401 with the words
    that name the sign-in page; encoding without a session is refused to the Web UI too."""
    body = await sealed_payloads(api)
    cli = await api.http.post("/codec/decode", json=body)
    elsewhere = await api.http.post(
        "/codec/decode", json=body, headers={"Origin": "https://evil.example"}
    )
    for refused in (cli, elsewhere):
        assert refused.status_code == 401, refused.text
        assert "sign in at http://testserver/codec/sign-in" in refused.json()["detail"]
    assert "access-control-allow-origin" not in elsewhere.headers
    encode = await api.http.post("/codec/encode", json=body, headers={"Origin": WEB_UI})
    assert encode.status_code == 401


async def test_r13_a_signed_in_operator_in_the_web_ui_reads_the_plaintext(api: Api) -> None:
    """R13: with the operator's session the same request decodes, as before."""
    email = new_operator(api)
    opened = await api.http.post("/auth/session", data={"username": email, "password": PASSWORD})
    assert opened.status_code == 204
    answer = await api.http.post(
        "/codec/decode", json=await sealed_payloads(api), headers={"Origin": WEB_UI}
    )
    assert answer.status_code == 200, answer.text
    assert shown_by_the_web_ui(answer.json()) == [
        {"holder_name": "Contoso"},
        "Office 2026 Cash Back",
    ]
