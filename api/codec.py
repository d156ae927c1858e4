"""The codec server (R13): the Temporal Web UI sends the encrypted payloads of a history here and
shows what comes back. Only signed-in operators get plaintext; anyone else gets 401/403.

Protocol (Temporal's remote codec): POST /codec/decode and /codec/encode with
`{"payloads": [{"metadata": {...base64...}, "data": "...base64..."}]}`, answered in kind.
`encode` signs a decision (the `decide` update's input) for the signed-in operator (D3).

These are the only endpoints the operator's browser session (the cookie `POST /auth/session`
sets) opens, with the invoice link of the Web UI's claim details (`/codec/claims/{id}/invoice`);
`DELETE /codec/session` ends that session.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from cryptography.exceptions import InvalidTag
from fastapi import APIRouter, Body, Response
from fastapi.responses import RedirectResponse
from google.protobuf import json_format
from sqlalchemy import delete
from temporalio.api.common.v1 import Payload, Payloads

from api.browser import clear_session_cookie
from api.deps import CodecOperator, CodecReader, CodecSession, ServicesDep, SignInNeeded
from api.errors import ApiError, error_responses, not_found
from api.limits import BodyCap
from cashback.codec import UnknownPayloadKey
from cashback.db.tables import ApiToken, Claim
from cashback.decisions import DecisionKey, DecisionRefused
from cashback.invoices import InvoiceNotFoundError, InvoiceStorageError
from cashback.wiring import payload_codec

router = APIRouter(prefix="/codec", tags=["codec"])
INVOICE_LINK_LIFETIME = timedelta(minutes=10)

# The Web UI sends whole payloads: Temporal takes up to 2 MB each, base64 adds a third.
PAYLOADS_CAP = BodyCap(
    4 * 1024 * 1024, "payloads_too_large", "send at most 4 MiB of payloads per request"
)

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


def _sign_in_payload(needed: SignInNeeded) -> Payload:
    """A readable JSON payload in place of one the browser may not read: where to sign in."""
    return Payload(
        metadata={"encoding": b"json/plain"},
        data=json.dumps({"sign_in": needed.message}).encode(),
    )


@router.post("/decode", responses=error_responses(401, 403, 413, 422))
async def decode(
    reader: CodecReader, services: ServicesDep, body: PayloadsBody, response: Response
) -> PayloadsJson:
    """Operators: the plaintext of encrypted payloads. The Temporal Web UI (a request from
    one of `CASHBACK_CODEC_CORS_ORIGINS`) without an operator's session gets each payload
    replaced by `{"sign_in": "Sign in at …/codec/sign-in to read this claim's data …"}`, which it
    shows where it would only say "Codec Server could not connect" to a 401; never any
    decrypted data. Other clients get 401 (403 for a reseller) with the same words."""
    response.headers["Cache-Control"] = "no-store"
    payloads = _parse(body).payloads
    if isinstance(reader, SignInNeeded):
        return _dump(Payloads(payloads=[_sign_in_payload(reader)] * len(payloads)))
    try:
        decoded = await payload_codec(services.settings).decode(payloads)
    except UnknownPayloadKey as error:
        raise ApiError(422, "unknown_payload_key", str(error)) from error
    except (InvalidTag, ValueError) as error:  # tampered, cut short, or a malformed key id
        raise ApiError(
            422,
            "payload_not_authentic",
            "a payload failed its integrity check: it was altered, cut short or not sealed "
            "by this program",
        ) from error
    return _dump(Payloads(payloads=decoded))


@router.post("/encode", responses=error_responses(401, 403, 413, 422))
async def encode(user: CodecOperator, services: ServicesDep, body: PayloadsBody) -> PayloadsJson:
    """Operators: encrypt payloads (the UI uses it to send updates and signals). A decision
    (JSON with `kind` approve or reject, and its `claim_id`) is first signed for the signed-in
    operator, whatever operator it names (D3)."""
    key = DecisionKey(services.settings.decision_key_bytes)
    try:
        payloads = key.sign_payloads(
            _parse(body).payloads, operator=user.email, now=datetime.now(UTC)
        )
    except DecisionRefused as error:
        raise ApiError(422, "invalid_decision", str(error)) from error
    encoded = await payload_codec(services.settings).encode(payloads)
    return _dump(Payloads(payloads=encoded))


@router.delete("/session", status_code=204, response_class=Response, responses=error_responses(401))
def sign_out_session(user: CodecSession, services: ServicesDep) -> Response:
    """End the browser session (the cookie of `POST /auth/session`) at once, and clear it."""
    with services.database.transaction() as session:
        session.execute(delete(ApiToken).where(ApiToken.token_sha256 == user.token_sha256))
    response = Response(status_code=204)
    clear_session_cookie(response, services.settings.public_base_url)
    return response


@router.get(
    "/claims/{claim_id}/invoice",
    status_code=303,
    response_class=RedirectResponse,
    responses={
        303: {"description": "to a short-lived link to the invoice"},
        **error_responses(401, 403, 404, 503),
    },
)
def open_invoice(claim_id: str, user: CodecOperator, services: ServicesDep) -> RedirectResponse:
    """R5: the claim's customer invoice for an operator signed in in this browser (the Temporal
    Web UI's claim details link here): a redirect to a link that expires in minutes."""
    with services.database.reading() as session:
        claim = session.get(Claim, claim_id)
    if claim is None:
        raise not_found(f"claim {claim_id}")
    try:
        url = services.invoices.download_url(claim.invoice_object_key, INVOICE_LINK_LIFETIME)
    except InvoiceNotFoundError:
        raise not_found(f"the invoice of claim {claim_id}") from None
    except InvoiceStorageError as error:
        raise ApiError(503, "invoice_store_unavailable", str(error)) from None
    return RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})
