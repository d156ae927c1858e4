"""Webhooks (issue 17): a reseller's endpoints, their secrets, the delivery log and redelivery;
and the events themselves, documented in the OpenAPI document's `webhooks` section."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Body, Header, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from api.deps import ResellerUser, ServicesDep
from api.errors import ApiError, error_responses, not_found
from cashback.db.tables import WebhookDelivery, WebhookDeliveryStatus, WebhookEndpoint, WebhookEvent
from cashback.domain.names import PlainText
from cashback.domain.webhooks import (
    MAX_URL_LENGTH,
    AddressRefused,
    ClaimEvent,
    WebhookEventType,
)
from cashback.webhooks.endpoints import EndpointDisabled, EndpointNotFound, TooManyEndpoints

router = APIRouter(tags=["webhooks"])


class EndpointCreate(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "url": "https://erp.northwind.example/hooks/cashback",
                    "event_types": ["claim.approved", "claim.paid"],
                    "description": "ERP",
                }
            ]
        }
    )

    url: str = Field(
        min_length=8,
        max_length=MAX_URL_LENGTH,
        description="https:// only; its addresses must be public (no private, loopback or "
        "link-local ranges)",
    )
    event_types: list[WebhookEventType] = Field(
        default_factory=lambda: list(WebhookEventType),
        min_length=1,
        description="the events to receive; all by default",
    )
    description: PlainText = Field(default="", max_length=200)


class EndpointRead(BaseModel):
    endpoint_id: str
    url: str
    event_types: list[WebhookEventType]
    description: str
    enabled: bool
    disabled_reason: str = Field(description="why it was disabled (empty while enabled)")
    created_at: AwareDatetime
    previous_secret_expires_at: AwareDatetime | None = Field(
        description="while a rotation's overlap lasts, the previous secret signs too"
    )

    @classmethod
    def of(cls, endpoint: WebhookEndpoint) -> EndpointRead:
        return cls(
            endpoint_id=endpoint.id,
            url=endpoint.url,
            event_types=[WebhookEventType(kind) for kind in endpoint.event_types],
            description=endpoint.description,
            enabled=endpoint.enabled,
            disabled_reason=endpoint.disabled_reason,
            created_at=endpoint.created_at,
            previous_secret_expires_at=endpoint.previous_secret_expires_at,
        )


class EndpointCreated(EndpointRead):
    secret: str = Field(
        description="the signing secret (Standard Webhooks, `whsec_...`); shown only now"
    )


class EndpointList(BaseModel):
    endpoints: list[EndpointRead]


class SecretRotation(BaseModel):
    overlap_hours: float = Field(
        default=24,
        ge=0,
        le=168,
        description="how long the previous secret keeps signing beside the new one",
    )


class SecretRotated(BaseModel):
    secret: str = Field(description="the new signing secret; shown only now")
    previous_secret_expires_at: AwareDatetime | None


class DeliveryRead(BaseModel):
    """One event for the endpoint and how its delivery went. The event's body is what was
    signed; it never holds bank details."""

    delivery_id: str
    webhook_id: str = Field(description="the `webhook-id` header: the same on every attempt")
    event_type: WebhookEventType
    claim_id: str
    status: WebhookDeliveryStatus
    attempts: int
    last_attempt_at: AwareDatetime | None
    last_status_code: int | None
    last_error: str
    delivered_at: AwareDatetime | None
    event: ClaimEvent

    @classmethod
    def of(cls, delivery: WebhookDelivery, event: WebhookEvent) -> DeliveryRead:
        return cls(
            delivery_id=delivery.id,
            webhook_id=event.id,
            event_type=WebhookEventType(event.event_type),
            claim_id=event.claim_id,
            status=delivery.status,
            attempts=delivery.attempts,
            last_attempt_at=delivery.last_attempt_at,
            last_status_code=delivery.last_status_code,
            last_error=delivery.last_error,
            delivered_at=delivery.delivered_at,
            event=ClaimEvent.model_validate(event.payload),
        )


class DeliveryLog(BaseModel):
    deliveries: list[DeliveryRead] = Field(description="newest first")


def _reseller_id(user: ResellerUser) -> str:
    assert user.reseller_id is not None  # ResellerUser guarantees it
    return user.reseller_id


def _refused(refusal: AddressRefused) -> ApiError:
    return ApiError(
        422,
        "endpoint_refused",
        f"the webhook endpoint is refused: {refusal}; use a public https:// endpoint",
    )


@router.post(
    "/webhooks/endpoints",
    status_code=201,
    response_model=EndpointCreated,
    responses=error_responses(401, 403, 409, 422),
)
async def create_endpoint(
    body: EndpointCreate, user: ResellerUser, services: ServicesDep
) -> EndpointCreated:
    """Register an endpoint for the organisation's claim events. The answer carries the signing
    secret, shown only this once. The URL must be https:// and resolve to public addresses
    only (422 `endpoint_refused` says why not); it is checked again at every delivery."""
    try:
        created = await run_in_threadpool(
            services.webhooks.create,
            _reseller_id(user),
            body.url,
            body.event_types,
            body.description,
        )
    except AddressRefused as refusal:
        raise _refused(refusal) from None
    except TooManyEndpoints as error:
        raise ApiError(409, "too_many_endpoints", f"{error}; delete one first") from None
    return EndpointCreated(**EndpointRead.of(created.endpoint).model_dump(), secret=created.secret)


@router.get("/webhooks/endpoints", response_model=EndpointList, responses=error_responses(401, 403))
def list_endpoints(user: ResellerUser, services: ServicesDep) -> EndpointList:
    """The organisation's endpoints (never their secrets)."""
    endpoints = services.webhooks.of_reseller(_reseller_id(user))
    return EndpointList(endpoints=[EndpointRead.of(endpoint) for endpoint in endpoints])


@router.get(
    "/webhooks/endpoints/{endpoint_id}",
    response_model=EndpointRead,
    responses=error_responses(401, 403, 404),
)
def read_endpoint(endpoint_id: str, user: ResellerUser, services: ServicesDep) -> EndpointRead:
    """One endpoint; another organisation's is not found."""
    try:
        return EndpointRead.of(services.webhooks.get(_reseller_id(user), endpoint_id))
    except EndpointNotFound:
        raise not_found(f"webhook endpoint {endpoint_id}") from None


@router.delete(
    "/webhooks/endpoints/{endpoint_id}",
    status_code=204,
    response_class=Response,
    responses=error_responses(401, 403, 404),
)
def delete_endpoint(endpoint_id: str, user: ResellerUser, services: ServicesDep) -> Response:
    """Delete the endpoint: nothing more is sent to it."""
    try:
        services.webhooks.delete(_reseller_id(user), endpoint_id)
    except EndpointNotFound:
        raise not_found(f"webhook endpoint {endpoint_id}") from None
    return Response(status_code=204)


@router.post(
    "/webhooks/endpoints/{endpoint_id}/secret",
    response_model=SecretRotated,
    responses=error_responses(401, 403, 404, 422),
)
def rotate_secret(
    endpoint_id: str,
    user: ResellerUser,
    services: ServicesDep,
    rotation: Annotated[SecretRotation | None, Body()] = None,
) -> SecretRotated:
    """A new signing secret, shown only now. During the overlap (24 hours unless said, at most
    7 days) every webhook carries two signatures, by the new and by the previous secret, so
    the receiver can switch at its own pace."""
    overlap = timedelta(hours=(rotation or SecretRotation()).overlap_hours)
    try:
        rotated = services.webhooks.rotate(_reseller_id(user), endpoint_id, overlap)
    except EndpointNotFound:
        raise not_found(f"webhook endpoint {endpoint_id}") from None
    return SecretRotated(
        secret=rotated.secret, previous_secret_expires_at=rotated.previous_secret_expires_at
    )


@router.post(
    "/webhooks/endpoints/{endpoint_id}/enable",
    response_model=EndpointRead,
    responses=error_responses(401, 403, 404, 422),
)
async def enable_endpoint(
    endpoint_id: str, user: ResellerUser, services: ServicesDep
) -> EndpointRead:
    """Enable an endpoint that was disabled after 3 days of failed deliveries (its URL is
    checked again). New events go to it; the missed ones can be sent again from its log."""
    try:
        endpoint = await run_in_threadpool(
            services.webhooks.enable, _reseller_id(user), endpoint_id
        )
    except EndpointNotFound:
        raise not_found(f"webhook endpoint {endpoint_id}") from None
    except AddressRefused as refusal:
        raise _refused(refusal) from None
    return EndpointRead.of(endpoint)


@router.get(
    "/webhooks/endpoints/{endpoint_id}/deliveries",
    response_model=DeliveryLog,
    responses=error_responses(401, 403, 404),
)
def list_deliveries(endpoint_id: str, user: ResellerUser, services: ServicesDep) -> DeliveryLog:
    """The endpoint's delivery log, newest first (the last 100): each event, its attempts, the
    last answer."""
    try:
        rows = services.webhooks.deliveries(_reseller_id(user), endpoint_id)
    except EndpointNotFound:
        raise not_found(f"webhook endpoint {endpoint_id}") from None
    return DeliveryLog(deliveries=[DeliveryRead.of(delivery, event) for delivery, event in rows])


@router.post(
    "/webhooks/endpoints/{endpoint_id}/deliveries/{delivery_id}/redeliver",
    status_code=202,
    response_class=Response,
    responses=error_responses(401, 403, 404, 409),
)
def redeliver(
    endpoint_id: str, delivery_id: str, user: ResellerUser, services: ServicesDep
) -> Response:
    """Send the event again, with the same `webhook-id` (so the receiver can deduplicate), in
    the claim's order among its events still pending for the endpoint. A disabled endpoint is
    refused (409): enable it first."""
    try:
        services.webhooks.redeliver(_reseller_id(user), endpoint_id, delivery_id)
    except EndpointNotFound:
        raise not_found(f"delivery {delivery_id} of webhook endpoint {endpoint_id}") from None
    except EndpointDisabled:
        raise ApiError(
            409,
            "endpoint_disabled",
            f"webhook endpoint {endpoint_id} is disabled; enable it "
            f"(POST /webhooks/endpoints/{endpoint_id}/enable), then send the event again",
        ) from None
    return Response(status_code=202)


# ---- the webhooks themselves (the OpenAPI document's `webhooks` section) -------------------

webhooks = APIRouter(tags=["webhooks"])

_HEADERS_DOC = (
    " Signed per the Standard Webhooks specification: verify `webhook-signature` (`v1,` and "
    "the base64 HMAC-SHA256 of `<webhook-id>.<webhook-timestamp>.<body>` under the secret's "
    "bytes; during a secret rotation two signatures, space-separated) and reject a timestamp "
    "older than 5 minutes. `webhook-id` stays the same when an event is sent again: "
    "deduplicate on it. Answer 2xx within 10 seconds; anything else (redirects too) is retried "
    "with exponential backoff for up to 3 days, then the endpoint is disabled."
)

_EVENT_DOCS = {
    WebhookEventType.SUBMITTED: "R5, R7: a claim was received.",
    WebhookEventType.UNDER_REVIEW: "R8, R9: the preliminary checks passed; the review runs.",
    WebhookEventType.APPROVED: "R9: an operator (or the automatic verdict) approved the claim.",
    WebhookEventType.REJECTED: "R8, R9: the claim was rejected; `reasons` say why.",
    WebhookEventType.BANK_DETAILS_REQUESTED: "R10, R16: bank details are requested by "
    "`deadlines.respond_by` (the e-mail has the secure link; the webhook never has details).",
    WebhookEventType.PAID: "R14: the cash back was paid.",
    WebhookEventType.PAYMENT_FAILED: "R16: the bank returned the payment.",
    WebhookEventType.CANCELLED: "R10, R16: the claim was cancelled; `reasons` say why.",
}


def _document(event_type: WebhookEventType) -> None:
    async def event(
        body: ClaimEvent,
        webhook_id: Annotated[str, Header(alias="webhook-id")],
        webhook_timestamp: Annotated[str, Header(alias="webhook-timestamp")],
        webhook_signature: Annotated[str, Header(alias="webhook-signature")],
    ) -> None:
        """Documentation only: the program POSTs this to the endpoint."""

    webhooks.add_api_route(
        event_type.value,
        event,
        methods=["POST"],
        operation_id=f"webhooks.{event_type.value.replace('.', '_')}",
        summary=event_type.value,
        description=_EVENT_DOCS[event_type] + _HEADERS_DOC,
        status_code=200,
        response_class=Response,
        responses={200: {"description": "received (any 2xx)"}},
    )


for _kind in WebhookEventType:
    _document(_kind)
