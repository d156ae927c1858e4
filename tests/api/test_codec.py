"""R13: the codec endpoint the Temporal Web UI calls shows plaintext to operators only."""

from __future__ import annotations

import base64

from temporalio.api.common.v1 import Payload

from api.accounts import create_operator
from cashback.wiring import payload_codec
from tests.api.harness import PASSWORD, Api


def as_json(payload: Payload) -> dict[str, object]:
    return {
        "metadata": {k: base64.b64encode(v).decode() for k, v in payload.metadata.items()},
        "data": base64.b64encode(payload.data).decode(),
    }


async def test_r13_operators_decode_what_the_program_encrypted(api: Api) -> None:
    """R13: a payload sealed with the program's key decodes for an operator, and an encode then
    decode round-trips."""
    plain = Payload(metadata={"encoding": b"json/plain"}, data=b'{"holder_name":"Contoso"}')
    sealed = (await payload_codec(api.services.settings).encode([plain]))[0]
    assert b"Contoso" not in sealed.data

    decoded = await api.http.post(
        "/codec/decode", json={"payloads": [as_json(sealed)]}, headers=api.operator
    )
    assert decoded.status_code == 200, decoded.text
    assert decoded.json() == {"payloads": [as_json(plain)]}

    encoded = await api.http.post(
        "/codec/encode", json={"payloads": [as_json(plain)]}, headers=api.operator
    )
    again = await api.http.post("/codec/decode", json=encoded.json(), headers=api.operator)
    assert again.json() == {"payloads": [as_json(plain)]}


async def test_r13_the_codec_refuses_anyone_but_operators(api: Api) -> None:
    """R13: without credentials 401, a reseller 403; a payload the program sealed is not
    decoded for them (its plaintext appears in no answer)."""
    plain = Payload(metadata={"encoding": b"json/plain"}, data=b'{"holder_name":"Contoso"}')
    sealed = (await payload_codec(api.services.settings).encode([plain]))[0]
    body = {"payloads": [as_json(sealed)]}
    anonymous = await api.http.post("/codec/decode", json=body)
    reseller = await api.register()
    refused = await api.http.post("/codec/decode", json=body, headers=reseller.headers)
    assert (anonymous.status_code, refused.status_code) == (401, 403)
    for answer in (anonymous, refused):
        assert set(answer.json()) == {"error", "detail"}
        assert "Contoso" not in answer.text
        assert base64.b64encode(plain.data).decode() not in answer.text


async def test_the_temporal_ui_origin_may_call_the_codec(api: Api) -> None:
    """The Web UI's origin passes the CORS preflight with the Authorization header."""
    preflight = await api.http.options(
        "/codec/decode",
        headers={
            "Origin": "http://127.0.0.1:8233",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type,x-namespace",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "http://127.0.0.1:8233"


async def test_r13_an_operators_browser_session_opens_the_codec(api: Api) -> None:
    """R13: an operator signed in through /auth/session (HttpOnly cookie) may decode, as the
    Temporal Web UI does with "include cross-origin credentials"; a reseller's cookie may not."""
    create_operator(api.services.database, "ops-cookie@program.example", PASSWORD)
    opened = await api.http.post(
        "/auth/session", data={"username": "ops-cookie@program.example", "password": PASSWORD}
    )
    assert opened.status_code == 204
    cookie = opened.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "samesite=strict" in cookie.lower()
    decoded = await api.http.post("/codec/decode", json={"payloads": []})
    assert decoded.status_code == 200
    api.http.cookies.clear()
    reseller = await api.register()
    await api.http.post("/auth/session", data={"username": reseller.email, "password": PASSWORD})
    assert (await api.http.post("/codec/decode", json={"payloads": []})).status_code == 403


async def test_r13_a_tampered_payload_is_a_clear_422_not_a_server_error(api: Api) -> None:
    """R13: ciphertext with one byte changed, cut short, or under a key id that is not UTF-8
    fails its integrity check: 422 `payload_not_authentic` (it was a 500), nothing decoded."""
    plain = Payload(metadata={"encoding": b"json/plain"}, data=b'{"holder_name":"Contoso"}')
    sealed = (await payload_codec(api.services.settings).encode([plain]))[0]
    flipped = Payload(
        metadata=sealed.metadata, data=sealed.data[:-1] + bytes([sealed.data[-1] ^ 1])
    )
    short = Payload(metadata=sealed.metadata, data=sealed.data[:5])
    foreign_id = Payload(
        metadata={**sealed.metadata, "encryption-key-id": b"\xff\xfe"}, data=sealed.data
    )
    for name, payload in (("one bit", flipped), ("cut short", short), ("key id", foreign_id)):
        answer = await api.http.post(
            "/codec/decode", json={"payloads": [as_json(payload)]}, headers=api.operator
        )
        assert answer.status_code == 422, (name, answer.text)
        assert answer.json()["error"] == "payload_not_authentic", name
        assert "Contoso" not in answer.text
