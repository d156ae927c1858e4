"""Rows the tests need before the table under test: a reseller, an offer, claims."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy.orm import Session

from cashback.db.tables import Claim, Offer, Reseller, ResellerStatus
from cashback.domain.reseller import Language
from cashback.domain.status import ClaimStatus
from tests.identities import new_vat_id

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
RESELLER_ID = "reseller-1"
OFFER_ID = "offer-1"


def add_reseller(session: Session, reseller_id: str = RESELLER_ID) -> Reseller:
    reseller = Reseller(
        id=reseller_id,
        company_name="Acme Software GmbH",
        country="DE",
        language=Language.GERMAN,
        email="claims@acme.example",
        created_at=NOW,
        vat_id=new_vat_id(),  # R1: verified and approved
        status=ResellerStatus.APPROVED,
    )
    session.add(reseller)
    return reseller


def add_offer(
    session: Session, offer_id: str = OFFER_ID, *, min_licences: int = 1, max_licences: int = 100
) -> Offer:
    offer = Offer(
        id=offer_id,
        name="Office cash back spring 2026",
        sale_date_from=date(2026, 1, 1),
        sale_date_to=date(2026, 6, 30),
        products=["OFFICE PRO PLUS"],
        licence_types=["NEW"],
        customer_segments=["COMMERCIAL"],
        countries=["DE", "AT"],
        min_per_customer=min_licences,
        max_per_customer=max_licences,
        claim_opens_at=datetime(2026, 1, 1, tzinfo=UTC),
        claim_closes_at=datetime(2026, 9, 30, tzinfo=UTC),
        rate_minor_units=1250,
        currency="EUR",
        terms_version="2026-01",
        created_at=NOW,
    )
    session.add(offer)
    return offer


def new_claim(
    claim_id: str,
    *,
    agreement_number: str | None = None,
    idempotency_key: str | None = None,
    offer_id: str = OFFER_ID,
) -> Claim:
    number = agreement_number or f"OL-{claim_id}"
    return Claim(
        id=claim_id,
        workflow_id=f"claim-{claim_id}",
        idempotency_key=idempotency_key or f"key-{claim_id}",
        reseller_id=RESELLER_ID,
        offer_id=offer_id,
        agreement_number=number,
        customer_name="Contoso AG",
        reseller_name_on_agreement="Acme Software GmbH",
        terms_accepted_version="2026-01",
        terms_accepted_at=NOW,
        invoice_object_key=f"invoices/{claim_id}.pdf",
        invoice_sha256="0" * 64,
        status=ClaimStatus.SUBMITTED,
        created_at=NOW,
        updated_at=NOW,
    )


def add_claims(session: Session, *claim_ids: str) -> None:
    """A reseller, an offer, and one submitted claim per id."""
    add_reseller(session)
    add_offer(session)
    session.flush()
    session.add_all(new_claim(claim_id) for claim_id in claim_ids)
