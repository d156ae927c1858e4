"""The OpenAPI contract that integrators generate clients from (issue 17): it validates, it is
held by a snapshot (a change to the contract is a visible diff), required parts are required,
enums are declared once, operation ids are stable, errors have their model and schemas carry
examples.

The snapshot is `tests/api/openapi.snapshot.json`; after an intended change to the contract,
record it again with `CASHBACK_RECORD_OPENAPI=1 pytest tests/api/test_contract.py` and review
the diff.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from openapi_spec_validator import validate
from pydantic import BaseModel

from api.accounts import COUNTRIES, ResellerRegistration, TokenRead
from api.app import create_app
from api.claims import ClaimSubmitted, ClaimSummary
from api.contract import OPERATION_IDS, operation_id
from api.errors import ErrorBody
from cashback.domain.money import Money
from tests.api.harness import PASSWORD
from tests.identities import new_vat_id

SNAPSHOT = Path(__file__).with_name("openapi.snapshot.json")
RECORD = os.environ.get("CASHBACK_RECORD_OPENAPI") == "1"


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return create_app(None).openapi()


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
    ]


def test_the_spec_validates(spec: dict[str, Any]) -> None:
    """openapi-spec-validator accepts the document (OpenAPI 3.1)."""
    validate(spec)
    assert spec["openapi"].startswith("3.1")


def test_the_spec_matches_its_snapshot(spec: dict[str, Any]) -> None:
    """A change to the contract is a visible diff of tests/api/openapi.snapshot.json."""
    text = json.dumps(spec, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if RECORD:
        SNAPSHOT.write_text(text, encoding="utf-8")
    assert SNAPSHOT.exists(), "no snapshot: record it with CASHBACK_RECORD_OPENAPI=1"
    recorded = SNAPSHOT.read_text(encoding="utf-8")
    assert text == recorded, (
        "the OpenAPI document changed; if that is intended, record it again with "
        "CASHBACK_RECORD_OPENAPI=1 pytest tests/api/test_contract.py and review the diff"
    )


def test_operation_ids_are_stable_dotted_names_from_one_table(spec: dict[str, Any]) -> None:
    """Every documented operation has the id api/contract.py names for it (`claims.submit`),
    never the framework's generated one (`submit_claim_claims_post`), and ids are unique."""
    ids = {
        (method, path): operation["operationId"] for method, path, operation in _operations(spec)
    }
    assert len(set(ids.values())) == len(ids)
    for route, named in ids.items():
        assert OPERATION_IDS[route] == named
        assert re.fullmatch(r"[a-z_]+(\.[a-z_]+)+", named), named
    assert ids[("POST", "/claims")] == "claims.submit"
    assert ids[("GET", "/claims/{claim_id}")] == "claims.read"
    assert ids[("GET", "/claims")] == "claims.list"
    assert ids[("POST", "/auth/register")] == "accounts.register"
    # Every operation is tagged, with a tag the document describes.
    described = {tag["name"] for tag in spec["tags"]}
    for _, _, operation in _operations(spec):
        assert len(operation["tags"]) == 1
        assert operation["tags"][0] in described


def test_a_route_without_an_operation_id_fails_the_build() -> None:
    """A new route cannot slip into the contract with a generated name; one left out of the
    schema gets an internal name."""

    def unnamed() -> dict[str, str]:
        return {}

    with pytest.raises(KeyError, match="OPERATION_IDS"):
        APIRoute("/unnamed", unnamed, methods=["GET"], generate_unique_id_function=operation_id)
    hidden = APIRoute(
        "/unnamed",
        unnamed,
        methods=["GET"],
        include_in_schema=False,
        generate_unique_id_function=operation_id,
    )
    assert hidden.unique_id == "internal.unnamed"


def test_r5_r6_a_claim_requires_the_invoice_as_a_binary_file_and_the_terms_version(
    spec: dict[str, Any],
) -> None:
    """R5, R6: the claim form requires the invoice, declared as a file part (`format: binary`,
    which generators send as a file), and the accepted T&C version; neither may be null."""
    content = spec["paths"]["/claims"]["post"]["requestBody"]["content"]
    ref = content["multipart/form-data"]["schema"]["$ref"]
    form = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert {"invoice", "terms_accepted_version"} <= set(form["required"])
    invoice = form["properties"]["invoice"]
    assert invoice["type"] == "string"
    assert invoice["format"] == "binary"
    assert "anyOf" not in invoice
    terms = form["properties"]["terms_accepted_version"]
    assert terms["type"] == "string"
    assert "anyOf" not in terms


def test_enums_are_declared_once_in_canonical_case(spec: dict[str, Any]) -> None:
    """No enum lists a value twice in different cases (generators refuse duplicate keys); the
    countries are the upper-case ISO codes, each once."""

    def enums(node: Any) -> list[list[Any]]:
        found: list[list[Any]] = []
        if isinstance(node, dict):
            if isinstance(node.get("enum"), list):
                found.append(node["enum"])
            for value in node.values():
                found.extend(enums(value))
        elif isinstance(node, list):
            for value in node:
                found.extend(enums(value))
        return found

    all_enums = enums(spec)
    assert all_enums
    for values in all_enums:
        folded = [value.casefold() if isinstance(value, str) else value for value in values]
        assert len(folded) == len(set(folded)), values
    country = spec["components"]["schemas"]["ResellerRegistration"]["properties"]["country"]
    assert country["enum"] == COUNTRIES
    assert all(code == code.upper() for code in country["enum"])


def test_r1_a_lower_case_country_is_still_accepted_and_made_canonical() -> None:
    """R1: `de` is read as `DE` (the schema declares only the canonical case)."""
    registration = ResellerRegistration.model_validate(
        {
            "company_name": "Northwind Traders GmbH",
            "country": "de",
            "email": "claims@northwind.example",
            "password": PASSWORD,
            "vat_id": new_vat_id(),
        }
    )
    assert registration.country == "DE"


def test_every_error_response_has_the_error_model(spec: dict[str, Any]) -> None:
    """Each 4xx/5xx answer is documented with `ErrorBody` (the readiness probe's 503 keeps its
    own `Health`), never FastAPI's unused validation-error model."""
    checked = 0
    for method, path, operation in _operations(spec):
        for status, response in operation["responses"].items():
            if not status.startswith(("4", "5")):
                continue
            schema = response["content"]["application/json"]["schema"]
            expected = "Health" if (method, path) == ("GET", "/readyz") else "ErrorBody"
            assert schema == {"$ref": f"#/components/schemas/{expected}"}, (method, path, status)
            checked += 1
    assert checked > 50
    assert "HTTPValidationError" not in spec["components"]["schemas"]


@pytest.mark.parametrize(
    "model", [ErrorBody, Money, ClaimSubmitted, ClaimSummary, TokenRead, ResellerRegistration]
)
def test_schemas_carry_examples_that_are_valid(
    spec: dict[str, Any], model: type[BaseModel]
) -> None:
    """The schemas integrators meet first carry an example, and the example is itself valid."""
    examples = spec["components"]["schemas"][model.__name__]["examples"]
    assert examples
    for example in examples:
        model.model_validate(example)


def test_the_webhooks_are_documented_with_their_body_and_signature_headers(
    spec: dict[str, Any],
) -> None:
    """Issue 17: the document's `webhooks` section has each of the eight events, its body the
    `ClaimEvent` (with an example) and the three Standard Webhooks headers required."""
    assert set(spec["webhooks"]) == {
        "claim.submitted",
        "claim.under_review",
        "claim.approved",
        "claim.rejected",
        "claim.bank_details_requested",
        "claim.paid",
        "claim.payment_failed",
        "claim.cancelled",
    }
    for name, operations in spec["webhooks"].items():
        operation = operations["post"]
        body = operation["requestBody"]["content"]["application/json"]["schema"]
        assert body == {"$ref": "#/components/schemas/ClaimEvent"}, name
        headers = {p["name"] for p in operation["parameters"] if p["in"] == "header"}
        assert headers == {"webhook-id", "webhook-timestamp", "webhook-signature"}
        assert all(p["required"] for p in operation["parameters"])
        assert set(operation["responses"]) == {"200"}
    assert spec["components"]["schemas"]["ClaimEvent"]["examples"]
    data = spec["components"]["schemas"]["ClaimEventData"]["properties"]
    assert not any("iban" in field or "bank_details" in field for field in data)
