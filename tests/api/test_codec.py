"""R13: the codec endpoint the Temporal Web UI calls shows plaintext to operators only."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

from temporalio.api.common.v1 import Payload

from api.accounts import create_operator
from cashback.claims import Decision
from cashback.decisions import DecisionKey
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


def decision_payload(content: dict[str, object]) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(content).encode())


async def test_d3_the_codec_signs_a_decision_for_the_signed_in_operator(api: Api) -> None:
    """D3: a decision encoded for an operator's browser session is stamped with that operator,
    whatever operator its JSON named, dated now and signed for its claim; the worker's key
    verifies it. Other payloads are only encrypted."""
    create_operator(api.services.database, "ops-decides@program.example", PASSWORD)
    opened = await api.http.post(
        "/auth/session", data={"username": "ops-decides@program.example", "password": PASSWORD}
    )
    assert opened.status_code == 204
    typed = {"kind": "reject", "claim_id": "c-42", "operator": "olga@program.example"}
    other = Payload(metadata={"encoding": b"json/plain"}, data=b'{"kind":"company"}')
    body = {"payloads": [as_json(decision_payload({**typed, "reasons": ["x"]})), as_json(other)]}
    encoded = await api.http.post("/codec/encode", json=body)
    assert encoded.status_code == 200, encoded.text
    assert b"olga" not in base64.b64decode(encoded.json()["payloads"][0]["data"])

    decoded = await api.http.post("/codec/decode", json=encoded.json())
    decision_json, other_json = decoded.json()["payloads"]
    assert other_json == as_json(other)
    decision = Decision.model_validate_json(base64.b64decode(decision_json["data"]))
    assert decision.operator == "ops-decides@program.example"
    assert decision.claim_id == "c-42"
    assert decision.issued_at is not None
    assert abs(decision.issued_at - datetime.now(UTC)) < timedelta(minutes=1)
    key = DecisionKey(api.services.settings.decision_key_bytes)
    key.verify(decision, claim_id="c-42", now=datetime.now(UTC))  # raises unless signed


async def test_d3_the_codec_refuses_to_sign_for_anyone_but_an_operator(api: Api) -> None:
    """D3: without a session the codec signs nothing (401), for a reseller neither (403); a
    decision without its claim is refused with what to add (422)."""
    body = {"payloads": [as_json(decision_payload({"kind": "approve", "claim_id": "c-42"}))]}
    assert (await api.http.post("/codec/encode", json=body)).status_code == 401
    reseller = await api.register()
    refused = await api.http.post("/codec/encode", json=body, headers=reseller.headers)
    assert refused.status_code == 403

    unbound = {"payloads": [as_json(decision_payload({"kind": "approve"}))]}
    answer = await api.http.post("/codec/encode", json=unbound, headers=api.operator)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"] == "invalid_decision"
    assert '"claim_id"' in answer.json()["detail"]
