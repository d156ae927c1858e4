"""Submissions the API refuses (R2, R4, R5, R6): each gets its documented 4xx naming the rule,
and leaves no claim row, no invoice file and no workflow behind; a submission that fails half
way (database, workflow service) is undone the same way."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from api.claims import MAX_INVOICE_BYTES
from cashback import submissions
from cashback.db import Database
from cashback.db.tables import Claim
from cashback.invoices import InvoiceStorageError, StoredInvoice
from tests.api.claims_helpers import (
    claim_fields,
    claim_rows,
    new_agreement,
    stored_invoices,
    submit,
    workflows,
)
from tests.api.harness import Api

NOW = datetime.now(UTC)


@dataclass(frozen=True)
class Refusal:
    """One refused submission: what is sent, and the answer it must get."""

    status: int
    error: str
    rule: str
    offer: dict[str, Any] = field(default_factory=dict)  # overrides of the offer's body
    send: dict[str, Any] = field(default_factory=dict)  # overrides of `submit`'s arguments
    close_offer: bool = False


REFUSALS = {
    "unknown offer": Refusal(404, "offer_not_found", "GET /offers", send={"offer_id": "o_nope"}),
    "R4 claim period not begun": Refusal(
        422,
        "offer_not_open",
        "R4",
        offer={
            "claim_period": {
                "opens_at": (NOW + timedelta(days=2)).isoformat(),
                "closes_at": (NOW + timedelta(days=30)).isoformat(),
            }
        },
    ),
    "R4 claim period over": Refusal(
        422,
        "offer_not_open",
        "R4",
        offer={
            "claim_period": {
                "opens_at": (NOW - timedelta(days=30)).isoformat(),
                "closes_at": (NOW - timedelta(minutes=1)).isoformat(),
            }
        },
    ),
    "R4 offer closed": Refusal(422, "offer_not_open", "R4", close_offer=True),
    "R2 R4 other region": Refusal(
        422, "offer_not_open", "R4 (R2)", offer={"criteria_countries": ["FR"]}
    ),
    "R6 terms not accepted": Refusal(
        422, "terms_not_accepted", "R6", send={"terms_accepted_version": None}
    ),
    "R6 terms blank": Refusal(
        422, "terms_not_accepted", "R6", send={"terms_accepted_version": " "}
    ),
    "R6 other terms version": Refusal(
        422, "terms_version_mismatch", "R6", send={"terms_accepted_version": "2025-07"}
    ),
    "R5 invoice empty": Refusal(422, "invoice_missing", "R5", send={"invoice": b""}),
    "R5 blank agreement number": Refusal(
        422, "claim_incomplete", "R5", send={"agreement_number": "  "}
    ),
    "R5 invoice not PDF PNG JPEG": Refusal(
        415,
        "invoice_type_unsupported",
        "R5",
        send={"invoice": b"Invoice 4711, total 1250.00 EUR\n", "content_type": "application/pdf"},
    ),
    "R5 invoice a Word file named .pdf": Refusal(
        415,
        "invoice_type_unsupported",
        "R5",
        send={"invoice": b"PK\x03\x04" + b"\x00" * 64, "filename": "invoice.pdf"},
    ),
    "R5 invoice over 10 MB": Refusal(
        413,
        "invoice_too_large",
        "R5",
        send={"invoice": b"%PDF-1.4\n" + b"\x00" * (MAX_INVOICE_BYTES - 8)},
    ),
    "R5 request far over 10 MB": Refusal(
        413,
        "invoice_too_large",
        "R5",
        send={"invoice": b"%PDF-1.4\n" + b"\x00" * (12 * 1024 * 1024)},
    ),
}


async def assert_nothing_left(api: Api) -> None:
    assert claim_rows(api) == []
    assert stored_invoices(api) == []
    assert await workflows(api) == []


async def test_r2_r4_r5_r6_refused_submissions_leave_nothing_behind(api: Api) -> None:
    """R2, R4, R5, R6 (and an unknown offer): each refusal answers its status and error code,
    names its rule, and stores no claim, no invoice and no workflow. One reseller tries them
    all, one after the other (a registration per case would only slow the suite down)."""
    reseller = await api.register()
    for name, case in REFUSALS.items():
        offer = await api.create_offer(**_offer_overrides(case))
        if case.close_offer:
            closed = await api.http.post(
                f"/operator/offers/{offer['offer_id']}/close", headers=api.operator
            )
            assert closed.status_code == 200
        send = {"offer_id": offer["offer_id"], "agreement_number": new_agreement(), **case.send}

        response = await submit(api, reseller, **send)

        assert response.status_code == case.status, (name, response.text)
        assert response.json()["error"] == case.error, name
        assert case.rule in response.json()["detail"], name
        await assert_nothing_left(api)


def _offer_overrides(case: Refusal) -> dict[str, Any]:
    overrides = dict(case.offer)
    countries = overrides.pop("criteria_countries", None)
    if countries is not None:
        overrides["criteria"] = {
            "sale_date_from": (NOW - timedelta(days=365)).date().isoformat(),
            "sale_date_to": (NOW + timedelta(days=30)).date().isoformat(),
            "products": ["Office Professional"],
            "licence_types": ["new"],
            "customer_segments": ["commercial"],
            "countries": countries,
        }
    return overrides


async def test_r5_a_submission_without_invoice_is_refused(api: Api) -> None:
    """R5: without the invoice the submission cannot be completed (422 naming R5)."""
    reseller = await api.register()
    offer = await api.create_offer()
    response = await api.http.post(
        "/claims",
        data=claim_fields(offer["offer_id"], new_agreement()),
        headers=reseller.headers,
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "invoice_missing"
    assert "R5" in response.json()["detail"]
    await assert_nothing_left(api)


async def test_r5_a_streamed_body_over_the_cap_is_refused_while_it_arrives(api: Api) -> None:
    """R5: a chunked upload without Content-Length is counted as it arrives and refused (413)
    once it passes the cap."""
    reseller = await api.register()
    offer = await api.create_offer()
    boundary = "cashback-boundary"
    head = "".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in claim_fields(offer["offer_id"], new_agreement()).items()
    )
    head += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="invoice"; '
        'filename="invoice.pdf"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.4\n'
    )
    sent = 0

    async def body() -> Any:
        nonlocal sent
        yield head.encode()
        for _ in range(12):
            sent += 1
            yield b"\x00" * (1024 * 1024)
        yield f"\r\n--{boundary}--\r\n".encode()

    response = await api.http.post(
        "/claims",
        content=body(),
        headers={**reseller.headers, "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.status_code == 413, response.text
    assert response.json()["error"] == "invoice_too_large"
    assert sent <= 11  # refused while arriving, not after reading everything
    await assert_nothing_left(api)


async def test_a_submission_failing_half_way_leaves_nothing_behind(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the invoice store, the database or Temporal fails during a submission, what was
    already stored is removed again (no half-made claim, no orphan invoice, no workflow) and
    the reseller is told to submit again (503 with Retry-After)."""
    reseller = await api.register()
    offer = await api.create_offer()

    def store_down(
        object_key: str, data: bytes, content_type: str, *, sha256: str | None = None
    ) -> StoredInvoice:
        raise InvoiceStorageError("S3 at http://127.0.0.1:9 does not answer")

    def database_down(database: Database, claim: Claim) -> Claim:
        raise OperationalError("INSERT INTO claims", {}, Exception("database is locked"))

    async def temporal_down(*args: object, **kwargs: object) -> None:
        raise RuntimeError("Temporal does not answer")

    failures = (
        (api.services.invoices, "put", store_down),
        (submissions, "store_claim", database_down),  # the one INSERT of a claim
        (api.services.temporal, "start_workflow", temporal_down),
    )
    for target, name, failure in failures:
        with monkeypatch.context() as patch:
            patch.setattr(target, name, failure)
            response = await submit(api, reseller, offer["offer_id"], new_agreement())

        assert response.status_code == 503, (name, response.text)
        assert response.json()["error"] == "service_unavailable"
        assert response.headers["Retry-After"]
        await assert_nothing_left(api)
