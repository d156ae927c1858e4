"""The OpenAPI contract integrators generate clients from: stable operation ids (`claims.submit`,
`claims.read`, ...) named once here, tags with descriptions, every error response as the one
error format (`ErrorBody`), and the webhooks the program sends (`webhooks`).

A route added to the schema without an id here fails when the app is built, so the contract
never falls back to the framework's generated names (which change with a function's name)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

# (method, path) -> operation id: `<tag>.<what>`; the generated clients' function names.
OPERATION_IDS: dict[tuple[str, str], str] = {
    ("GET", "/healthz"): "health.live",
    ("GET", "/readyz"): "health.ready",
    ("POST", "/auth/register"): "accounts.register",
    ("POST", "/auth/confirmation"): "accounts.resend_confirmation",
    ("POST", "/auth/confirm"): "accounts.confirm_address",
    ("POST", "/auth/token"): "accounts.sign_in",
    ("DELETE", "/auth/token"): "accounts.sign_out",
    ("POST", "/auth/session"): "accounts.open_session",
    ("DELETE", "/auth/tokens"): "accounts.sign_out_everywhere",
    ("POST", "/auth/password"): "accounts.change_password",
    ("GET", "/me"): "accounts.me",
    ("GET", "/account/bank-details"): "accounts.standing_bank_details.read",
    ("PUT", "/account/bank-details"): "accounts.standing_bank_details.set",
    ("DELETE", "/account/bank-details"): "accounts.standing_bank_details.withdraw",
    ("GET", "/offers"): "offers.list",
    ("POST", "/operator/offers"): "offers.create",
    ("POST", "/operator/offers/{offer_id}/close"): "offers.close",
    ("PUT", "/operator/offers/{offer_id}/decision-policy"): "offers.set_decision_policy",
    ("POST", "/claims"): "claims.submit",
    ("GET", "/claims"): "claims.list",
    ("GET", "/claims/{claim_id}"): "claims.read",
    ("GET", "/operator/review-queue"): "operators.review_queue",
    ("GET", "/operator/claims"): "operators.claims.list",
    ("GET", "/operator/claims.csv"): "operators.claims.export",
    ("GET", "/operator/claims/{claim_id}"): "operators.claims.read",
    ("GET", "/operator/claims/{claim_id}/invoice"): "operators.claims.invoice_link",
    ("POST", "/operator/claims/{claim_id}/decision"): "operators.claims.decide",
    ("POST", "/operator/claims/{claim_id}/payee-decision"): "operators.claims.decide_payee",
    ("POST", "/operator/claims/{claim_id}/payment-result"): "operators.claims.payment_result",
    ("POST", "/operator/licensing-records/import"): "operators.licensing_records.import",
    ("GET", "/invoices/{object_key}"): "operators.invoices.read",
    ("GET", "/operator/resellers"): "operators.organisations.list",
    ("POST", "/operator/resellers/{reseller_id}/approve"): "operators.organisations.approve",
    ("POST", "/operator/resellers/{reseller_id}/refuse"): "operators.organisations.refuse",
    ("POST", "/codec/decode"): "codec.decode",
    ("POST", "/codec/encode"): "codec.encode",
    ("DELETE", "/codec/session"): "codec.sign_out",
    ("GET", "/codec/claims/{claim_id}/invoice"): "codec.claims.invoice",
    ("PUT", "/operator/offers/{offer_id}/budget"): "budgets.set",
    ("POST", "/operator/offers/{offer_id}/budget/top-up"): "budgets.top_up",
    ("GET", "/operator/budgets"): "budgets.use",
    ("GET", "/operator/budgets.csv"): "budgets.use_csv",
    ("GET", "/operator/budgets/accruals"): "budgets.accruals",
    ("GET", "/operator/budgets/accruals.csv"): "budgets.accruals_csv",
    ("GET", "/operator/payment-runs"): "payment_runs.list",
    ("POST", "/operator/payment-runs"): "payment_runs.prepare",
    ("GET", "/operator/payment-runs/{run_id}"): "payment_runs.read",
    ("POST", "/operator/payment-runs/{run_id}/release"): "payment_runs.release",
    ("POST", "/operator/payment-runs/{run_id}/discard"): "payment_runs.discard",
    ("GET", "/operator/payment-runs/{run_id}/file"): "payment_runs.file",
    ("GET", "/operator/payment-runs/{run_id}/claims"): "payment_runs.claims",
    ("GET", "/operator/payment-runs/{run_id}/reconciliation"): "payment_runs.reconciliation",
    (
        "GET",
        "/operator/payment-runs/{run_id}/reconciliation.csv",
    ): "payment_runs.reconciliation_csv",
    ("GET", "/operator/bank-files"): "payment_runs.bank_files.list",
    ("POST", "/operator/bank-files"): "payment_runs.bank_files.import",
    ("POST", "/operator/bank-files/inbox"): "payment_runs.bank_files.import_inbox",
    ("GET", "/operator/payments/escalated"): "payment_runs.payments.escalated",
    ("GET", "/operator/payments/returned"): "payment_runs.payments.returned",
    ("GET", "/operator/reports"): "reports.all",
    ("GET", "/operator/reports/{name}"): "reports.read",
    ("GET", "/operator/reports/{name}.csv"): "reports.read_csv",
    ("GET", "/webhooks/endpoints"): "webhooks.endpoints.list",
    ("POST", "/webhooks/endpoints"): "webhooks.endpoints.create",
    ("GET", "/webhooks/endpoints/{endpoint_id}"): "webhooks.endpoints.read",
    ("DELETE", "/webhooks/endpoints/{endpoint_id}"): "webhooks.endpoints.delete",
    ("POST", "/webhooks/endpoints/{endpoint_id}/secret"): "webhooks.endpoints.rotate_secret",
    ("POST", "/webhooks/endpoints/{endpoint_id}/enable"): "webhooks.endpoints.enable",
    ("GET", "/webhooks/endpoints/{endpoint_id}/deliveries"): "webhooks.deliveries.list",
    (
        "POST",
        "/webhooks/endpoints/{endpoint_id}/deliveries/{delivery_id}/redeliver",
    ): "webhooks.deliveries.redeliver",
}

TAGS: list[dict[str, Any]] = [
    {"name": "health", "description": "Liveness and readiness of the API."},
    {
        "name": "accounts",
        "description": "R1: registration, address confirmation, sign-in (a bearer token), "
        "and the company's standing bank details (R10).",
    },
    {"name": "offers", "description": "R2, R4: the program's offers and their terms."},
    {
        "name": "claims",
        "description": "R5–R7, D1, D2: a reseller's claims, submitted with the invoice.",
    },
    {
        "name": "webhooks",
        "description": "Signed webhooks (Standard Webhooks) about a reseller's claims: "
        "endpoints, their secrets, the delivery log and redelivery.",
    },
    {"name": "operators", "description": "The program's operators: review, payments, imports."},
    {
        "name": "budgets",
        "description": "D7: offer budgets (set, topped up), their use and the accruals.",
    },
    {
        "name": "payment runs",
        "description": "R14, R16, D5: SEPA payment runs released by a second operator, the "
        "bank's answers imported, reconciliation.",
    },
    {
        "name": "reports",
        "description": "The program's reports (SLA of R9 and R14, funnel, stages, waiting).",
    },
    {"name": "codec", "description": "Temporal payloads decoded for operators (R13)."},
]


def operation_id(route: APIRoute) -> str:
    """The route's stable operation id (see OPERATION_IDS); unlisted routes stay out of the
    schema, so their names never reach a client."""
    methods = sorted(route.methods or ())
    for method in methods:
        known = OPERATION_IDS.get((method, route.path_format))
        if known is not None:
            return known
    if route.include_in_schema:
        raise KeyError(
            f"{methods} {route.path_format}: give the route an operation id in "
            "api/contract.py OPERATION_IDS"
        )
    return f"internal.{route.name}"


_VALIDATION_ERROR = "#/components/schemas/HTTPValidationError"
_ERROR_BODY = "#/components/schemas/ErrorBody"


def _one_error_format(spec: dict[str, Any]) -> None:
    """The API answers every invalid request with `ErrorBody` (api.errors); FastAPI documents
    its own validation error model for the routes that do not list 422: replaced."""
    for operations in spec.get("paths", {}).values():
        for operation in operations.values():
            for response in operation.get("responses", {}).values():
                schema = response.get("content", {}).get("application/json", {}).get("schema", {})
                if schema.get("$ref") == _VALIDATION_ERROR:
                    schema["$ref"] = _ERROR_BODY
    # A webhook is answered by the receiver: its only documented answer is a 2xx.
    for operations in spec.get("webhooks", {}).values():
        for operation in operations.values():
            operation.get("responses", {}).pop("422", None)
    schemas = spec.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)


def _form_name(title: str) -> str:
    """`Body_claims.submit` (FastAPI's name for a form's model) -> `ClaimsSubmitForm`."""
    words = re.split(r"[._]", title.removeprefix("Body_"))
    return "".join(word[:1].upper() + word[1:] for word in words if word) + "Form"


def _name_forms(spec: dict[str, Any]) -> None:
    """Forms (request bodies FastAPI builds from `Form`/`File` parameters) get readable,
    unique names: pydantic shortens `Body_claims.submit` to `submit`."""
    schemas: dict[str, Any] = spec.get("components", {}).get("schemas", {})
    renamed: dict[str, str] = {}
    for key, schema in list(schemas.items()):
        title = str(schema.get("title", ""))
        if title.startswith("Body_"):
            name = _form_name(title)
            schemas[name] = schemas.pop(key)
            schemas[name]["title"] = name
            renamed[f"#/components/schemas/{key}"] = f"#/components/schemas/{name}"

    def rewrite(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref in renamed:
                node["$ref"] = renamed[ref]
            for value in node.values():
                rewrite(value)
        elif isinstance(node, list):
            for value in node:
                rewrite(value)

    rewrite(spec)


def install_contract(
    app: FastAPI, webhooks: Callable[[dict[str, Any]], None] | None = None
) -> None:
    """The app's `openapi()`: FastAPI's document with one error format, the tags described and
    the webhooks (`webhooks(spec)` adds them)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = get_openapi(
                title=app.title,
                version=app.version,
                openapi_version=app.openapi_version,
                description=app.description,
                routes=app.routes,
                tags=TAGS,
                webhooks=app.webhooks.routes,
            )
            _one_error_format(spec)
            _name_forms(spec)
            if webhooks is not None:
                webhooks(spec)
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
