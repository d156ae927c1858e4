"""The codec server (R13): the Temporal Web UI sends the encrypted payloads of a history here and
shows what comes back. Only signed-in operators get plaintext; anyone else gets 401/403.

Protocol (Temporal's remote codec): POST /codec/decode and /codec/encode with
`{"payloads": [{"metadata": {...base64...}, "data": "...base64..."}]}`, answered in kind.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads

from api.deps import OperatorUser, ServicesDep
from api.errors import ApiError, error_responses
from cashback.codec import UnknownPayloadKey
from cashback.wiring import payload_codec

router = APIRouter(prefix="/codec", tags=["codec"])

PayloadsJson = dict[str, Any]
PayloadsBody = Annotated[PayloadsJson, Body()]


def _parse(body: PayloadsJson) -> Payloads:
    try:
        return json_format.ParseDict(body, Payloads())
    except json_format.ParseError as error:
        raise ApiError(
            422, "invalid_payloads", f"not a list of Temporal payloads: {error}"
        ) from error


def _dump(payloads: Payloads) -> PayloadsJson:
    return json_format.MessageToDict(payloads)


@router.post("/decode", responses=error_responses(401, 403, 422))
async def decode(user: OperatorUser, services: ServicesDep, body: PayloadsBody) -> PayloadsJson:
    """Operators: the plaintext of encrypted payloads."""
    try:
        decoded = await payload_codec(services.settings).decode(_parse(body).payloads)
    except UnknownPayloadKey as error:
        raise ApiError(422, "unknown_payload_key", str(error)) from error
    return _dump(Payloads(payloads=decoded))


@router.post("/encode", responses=error_responses(401, 403, 422))
async def encode(user: OperatorUser, services: ServicesDep, body: PayloadsBody) -> PayloadsJson:
    """Operators: encrypt payloads (the UI uses it to send updates and signals)."""
    encoded = await payload_codec(services.settings).encode(_parse(body).payloads)
    return _dump(Payloads(payloads=encoded))
