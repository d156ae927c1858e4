"""R13: operators sign in for the codec on a page under the cookie's path (/codec/sign-in), in
German and English; it says who is signed in until when and the Web UI's codec settings; the
codec's 401 names the page; a sign-in from another site is refused (login CSRF)."""

from __future__ import annotations

import uuid

from api.accounts import create_operator
from api.bank_details import SECURITY_HEADERS
from api.browser import SESSION_COOKIE
from tests.api.harness import PASSWORD, Api

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
