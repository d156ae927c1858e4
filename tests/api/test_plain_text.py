"""Names and addresses are one line of plain text: a line break (CR, LF), NUL, another C0 or C1
control or a bidirectional override, isolate or mark in a claim's customer or reseller name
(R5), an offer's name, the account holder's name on the bank-details page (R13) or a field of a
licensing-record import (R8) is refused with a clear 422 (or row error), and nothing is stored."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from cashback.db import LicensingRepository
from cashback.db.tables import Offer
from cashback.licensing_import import CSV_COLUMNS
from tests.api.claims_helpers import (
    claim_fields,
    claim_rows,
    invoice_pdf,
    new_agreement,
    terminate_all,
)
from tests.api.harness import Api, offer_body
from tests.api.test_bank_details_page import (
    bank_accounts_stored,
    claim_awaiting_bank_details,
    company_form,
)

FORGED = {
    "CR LF": "Fabrikam AG\r\nX-Injected: yes",
    "NUL": "Fabrikam\x00AG",
    "ESC": "Fabrikam\x1b[31mAG",
    "C1 NEL": "Fabrikam\x85AG",
    "RLO": "Fabrikam \u202egA",
    "LRI": "Fabrikam \u2066AG\u2069",
    "RLM": "Fabrikam\u200fAG",
}


@pytest.mark.parametrize("field", ["customer_name", "reseller_name"])
async def test_r5_a_claim_with_control_characters_in_a_name_is_refused(
    api: Api, field: str
) -> None:
    """R5: each control character in the customer's or the reseller's name: 422 naming the
    field and the character; no claim is stored."""
    reseller = await api.register()
    offer = await api.create_offer()
    for kind, name in FORGED.items():
        response = await api.http.post(
            "/claims",
            data=claim_fields(offer["offer_id"], new_agreement(), **{field: name}),
            files={"invoice": ("invoice.pdf", invoice_pdf(), "application/pdf")},
            headers=reseller.headers,
        )
        assert response.status_code == 422, (kind, response.text)
        body = response.json()
        assert body["error"] == "invalid_text", kind
        assert field in body["detail"], kind
        assert "control characters" in body["detail"], kind
    assert claim_rows(api) == []
    await terminate_all(api)


async def test_an_offer_name_with_control_characters_is_refused(api: Api) -> None:
    """An offer's name with a line break or a right-to-left override: 422, no offer."""
    for kind in ("CR LF", "RLO"):
        response = await api.http.post(
            "/operator/offers", json=offer_body(name=FORGED[kind]), headers=api.operator
        )
        assert response.status_code == 422, (kind, response.text)
        assert response.json()["error"] == "invalid_text"
        assert "name" in response.json()["detail"]
        assert "control characters" in response.json()["detail"]
    with api.services.database.reading() as session:
        assert session.scalar(select(func.count()).select_from(Offer)) == 0


async def test_r8_an_import_row_with_control_characters_is_reported_not_imported(
    api: Api,
) -> None:
    """R8: a CSV field with a (quoted) line break, a NUL or a bidi override is a row error
    naming the field; that agreement is not imported, the clean one is."""
    rows = [
        ",".join(CSV_COLUMNS),
        'OL-CC-1,"Fabrikam AG\r\nForged",commercial,DE,Contoso Software GmbH,2026-01-15,'
        "Office,new,10",
        "OL-CC-2,Fabrikam AG,commercial,DE,Contoso \u202eHbmG,2026-01-15,Office,new,10",
        "OL-CC-3,Fabrikam AG,commercial,DE,Contoso Software GmbH,2026-01-15,Off\x00ice,new,1",
        "OL-CC-OK,Fabrikam AG,commercial,DE,Contoso Software GmbH,2026-01-15,Office,new,10",
    ]
    response = await api.http.post(
        "/operator/licensing-records/import",
        files={"file": ("records.csv", "\n".join(rows).encode(), "text/csv")},
        headers=api.operator,
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["imported"] == ["OL-CC-OK"]
    assert sorted(report["not_imported"]) == ["OL-CC-1", "OL-CC-2", "OL-CC-3"]
    fields = {(error["row"], error["field"]) for error in report["errors"]}
    assert fields == {(2, "customer_name"), (3, "reseller_name"), (4, "product")}
    assert all("control characters" in error["message"] for error in report["errors"])
    with api.services.database.reading() as session:
        assert LicensingRepository(session).find_agreement("OL-CC-1") is None


async def test_r13_a_holder_name_with_control_characters_is_refused_on_the_page(
    api: Api,
) -> None:
    """R13: the account holder's name with a line break or a bidi override: the form again
    (422) with a clear message in the reseller's language; nothing stored, the link still
    valid."""
    awaiting = await claim_awaiting_bank_details(api)
    for kind in ("CR LF", "RLO"):
        page = await api.http.post(
            awaiting.link, data=company_form(holder_name=FORGED[kind], bic="COBADEFFXXX")
        )
        assert page.status_code == 422, kind
        assert "muss eine Textzeile sein" in page.text
    assert bank_accounts_stored(api) == 0
    assert api.services.invitations.claim_for(awaiting.token) == awaiting.claim_id
    await terminate_all(api)
