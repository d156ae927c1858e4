"""The application services behind the routes work without HTTP: submitting a claim (R5, R6,
D1, D2) and importing licensing records (R8), called directly on the API's services."""

from __future__ import annotations

import pytest

from cashback.db.tables import Claim
from cashback.domain.status import ClaimStatus
from cashback.licensing_import import InvalidCsv, import_licensing_csv
from cashback.submissions import Refusal, Submission, SubmissionRefused, Upload, submit
from tests.api.claims_helpers import invoice_pdf, new_agreement, terminate_all, wait_for_status
from tests.api.harness import Api


def submission(offer_id: str, agreement: str, **overrides: str | None) -> Submission:
    fields: dict[str, str | None] = {
        "offer_id": offer_id,
        "agreement_number": agreement,
        "customer_name": "Fabrikam AG",
        "reseller_name": "Contoso Software GmbH",
        "terms_accepted_version": "2026-01",
    }
    fields.update(overrides)
    return Submission(**fields)  # type: ignore[arg-type]


async def test_r5_d1_d2_the_submission_service_stores_starts_and_refuses(api: Api) -> None:
    """R5, D2: a claim is stored and its workflow started; the same key again gives the same
    claim (`again`); D1: another key for the agreement is a conflict; R6: other terms are
    invalid; an unknown offer is not found, all as `SubmissionRefused` kinds."""
    reseller = await api.register()
    offer = await api.create_offer()
    agreement = new_agreement()
    services = api.services.submissions
    upload = Upload(invoice_pdf(), "application/pdf", "invoice.pdf")

    first = await submit(
        services, reseller.reseller_id, submission(offer["offer_id"], agreement), upload, "k-1"
    )
    assert not first.again
    await wait_for_status(api, reseller, first.claim.id, ClaimStatus.UNDER_REVIEW)
    again = await submit(
        services, reseller.reseller_id, submission(offer["offer_id"], agreement), upload, "k-1"
    )
    assert (again.again, again.claim.id) == (True, first.claim.id)

    refusals = {
        Refusal.CONFLICT: submission(offer["offer_id"], agreement),
        Refusal.INVALID: submission(
            offer["offer_id"], new_agreement(), terms_accepted_version="1999"
        ),
        Refusal.NOT_FOUND: submission("o_unknown", new_agreement()),
    }
    for kind, refused in refusals.items():
        with pytest.raises(SubmissionRefused) as caught:
            await submit(services, reseller.reseller_id, refused, upload, None)
        assert caught.value.kind is kind, caught.value.detail
    with api.services.database.reading() as session:
        assert session.query(Claim).count() == 1
    await terminate_all(api)


def test_r8_the_import_service_reports_without_http(api: Api) -> None:
    """R8: the import service imports a record, reports a bad row, refuses a file without
    its columns."""
    text = (
        "agreement_number,customer_name,customer_segment,customer_country,reseller_name,"
        "seller_id,sale_date,product,licence_type,quantity\n"
        "ol-svc-1,Fabrikam AG,commercial,DE,Contoso,DE136695976,2026-03-01,Office,new,5\n"
        "OL-SVC-2,Fabrikam AG,commercial,DE,Contoso,not-a-vat-id,2026-03-01,Office,new,5\n"
    )
    report = import_licensing_csv(api.services.database, text)
    assert report.imported == ["OL-SVC-1"]
    assert report.not_imported == ["OL-SVC-2"]
    assert [(error.row, error.field) for error in report.errors] == [(3, "seller_id")]
    with pytest.raises(InvalidCsv, match="lacks"):
        import_licensing_csv(api.services.database, "agreement_number\nOL-1\n")
