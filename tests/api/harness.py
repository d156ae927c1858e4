"""A reseller's and an operator's way through the API, for tests."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from temporalio.testing import WorkflowEnvironment

from api.accounts import create_operator, issue_token
from api.services import Services
from cashback.db import LicensingRepository
from cashback.domain.eligibility import LicenceLine, LicensingRecord
from tests.identities import new_partner_id, new_vat_id
from tests.mail.mailbox import Mailbox

PASSWORD = "orchard-lantern-quarry-42"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def offer_body(**overrides: Any) -> dict[str, Any]:
    """An offer open now for German and Austrian resellers: Office, new licences, EUR 12.50."""
    now = datetime.now(UTC)
    body: dict[str, Any] = {
        "name": "Office 2026 Cash Back",
        "criteria": {
            "sale_date_from": (now - timedelta(days=365)).date().isoformat(),
            "sale_date_to": (now + timedelta(days=30)).date().isoformat(),
            "products": ["Office Professional"],
            "licence_types": ["new"],
            "customer_segments": ["commercial"],
            "countries": ["DE", "AT"],
        },
        "limits": {"min_per_customer": 5, "max_per_customer": 100},
        "claim_period": {
            "opens_at": (now - timedelta(days=1)).isoformat(),
            "closes_at": (now + timedelta(days=60)).isoformat(),
        },
        "rate_per_licence_minor_units": 1250,
        "currency": "EUR",
        "terms_version": "2026-01",
        "terms_text": "Terms and Conditions for the Reseller Cash Back Promotion.",
    }
    body.update(overrides)
    return body


@dataclass
class Reseller:
    reseller_id: str
    company_name: str
    email: str
    token: str
    vat_id: str = ""  # its VAT id (German resellers) or partner id: the seller id of records

    @property
    def headers(self) -> dict[str, str]:
        return auth(self.token)


@dataclass
class Api:
    app: FastAPI
    http: httpx.AsyncClient
    services: Services
    env: WorkflowEnvironment
    mailbox: Mailbox
    _operator: str | None = field(default=None)
    _first_seller: str | None = field(default=None)

    async def register(
        self,
        company_name: str = "Contoso Software GmbH",
        *,
        country: str = "DE",
        language: str = "de",
        vat_id: str | None = None,
        approve: bool = True,
    ) -> Reseller:
        """R1: an organisation registers, its user confirms the address with the link of the
        e-mail, and (with `approve`) an operator approves it; its user signed in."""
        email = f"claims-{uuid.uuid4().hex[:8]}@contoso.example"
        # R1: a German VAT id, or elsewhere the program's partner id
        vat_id = vat_id or (new_vat_id() if country.upper() == "DE" else None)
        partner_id = None if vat_id else new_partner_id()
        created = await self.http.post(
            "/auth/register",
            json={
                "company_name": company_name,
                "country": country,
                "language": language,
                "email": email,
                "password": PASSWORD,
                "vat_id": vat_id,
                "partner_id": partner_id,
            },
        )
        assert created.status_code == 202, created.text
        confirmed = await self.http.post("/auth/confirm", json={"token": self.link_token(email)})
        assert confirmed.status_code == 200, confirmed.text
        token = await self.sign_in(email)
        me = (await self.http.get("/me", headers=auth(token))).json()
        if approve:
            approved = await self.http.post(
                f"/operator/resellers/{me['reseller_id']}/approve", headers=self.operator
            )
            assert approved.status_code == 204, approved.text
        seller_id = vat_id or partner_id or ""
        self._first_seller = self._first_seller or seller_id
        return Reseller(me["reseller_id"], company_name, email, token, seller_id)

    def link_token(self, email: str) -> str:
        """The token of the newest address-confirmation link sent to `email` (R1)."""
        for delivery in reversed(self.mailbox.deliveries):
            if email in delivery.rcpt_tos:
                found = re.search(r"/auth/confirm\?token=([\w-]+)", delivery.part("plain"))
                if found:
                    return found.group(1)
        raise AssertionError(f"no confirmation link was sent to {email}")

    async def sign_in(self, email: str, password: str = PASSWORD) -> str:
        response = await self.http.post(
            "/auth/token", data={"username": email, "password": password}
        )
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        return token

    @property
    def operator(self) -> dict[str, str]:
        """The bearer header of an operator (created once per test, as the CLI would)."""
        if self._operator is None:
            database = self.services.database
            user_id = create_operator(
                database, f"op-{uuid.uuid4().hex[:6]}@program.example", PASSWORD
            )
            self._operator = issue_token(database, user_id).access_token
        return auth(self._operator)

    async def create_offer(self, **overrides: Any) -> dict[str, Any]:
        response = await self.http.post(
            "/operator/offers", json=offer_body(**overrides), headers=self.operator
        )
        assert response.status_code == 201, response.text
        offer: dict[str, Any] = response.json()
        return offer

    def add_licensing_record(
        self,
        agreement_number: str,
        *,
        reseller_name: str = "Contoso Software GmbH",
        customer_name: str = "Fabrikam AG",
        quantity: int = 20,
        sale_date: date | None = None,
        seller_id: str | None = None,
    ) -> LicensingRecord:
        """The record of an agreement sold (R8) by `seller_id`, by default the first reseller
        this test registered."""
        record = LicensingRecord(
            agreement_number=agreement_number,
            customer_name=customer_name,
            customer_segment="commercial",
            customer_country="DE",
            reseller_name=reseller_name,
            seller_id=seller_id or self._first_seller,
            sale_date=sale_date or datetime.now(UTC).date() - timedelta(days=90),
            lines=(
                LicenceLine(product="Office Professional", licence_type="new", quantity=quantity),
            ),
        )
        with self.services.database.transaction() as session:
            LicensingRepository(session).add_agreement(record, imported_at=datetime.now(UTC))
        return record
