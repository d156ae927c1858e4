"""A client generated from the running app's OpenAPI document with `openapi-python-client`
(pinned in the dev extra), with its default settings but two: no post hooks (it would run ruff
on the generated code) and the invoice's file types read as bytes. Through that client alone a
reseller goes the whole way (issue 17): register, confirm the address, sign in, read the
offers, submit a claim with a PDF, read it and list the claims. A contract that generators
cannot use fails here.

Generation reads the document from a file it was saved to (`--path`): nothing is downloaded.
"""

from __future__ import annotations

import importlib
import io
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from cashback.domain.status import ClaimStatus
from tests.api.claims_helpers import TERMS_VERSION, invoice_pdf, new_agreement
from tests.api.harness import PASSWORD, Api
from tests.api.test_schema import serving
from tests.identities import new_vat_id

PACKAGE = "cashback_generated_client"
CONFIG = """\
post_hooks: []
content_type_overrides:
  application/pdf: application/octet-stream
  image/png: application/octet-stream
  image/jpeg: application/octet-stream
  application/xml: application/octet-stream
"""


def generate(spec_text: str, where: Path) -> str:
    """Runs the generator on the saved document; answers what it printed."""
    spec = where / "openapi.json"
    spec.write_text(spec_text, encoding="utf-8")
    config = where / "config.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    generator = Path(sys.executable).with_name("openapi-python-client")
    done = subprocess.run(
        [
            str(generator),
            "generate",
            "--path",
            str(spec),
            "--output-path",
            str(where / PACKAGE),
            "--meta",
            "none",
            "--config",
            str(config),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


@pytest.fixture
def client_package(tmp_path: Path) -> Iterator[Path]:
    """Where the generated package goes; its modules are forgotten afterwards."""
    sys.path.insert(0, str(tmp_path))
    try:
        yield tmp_path
    finally:
        sys.path.remove(str(tmp_path))
        for name in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:
            del sys.modules[name]


def module(name: str) -> ModuleType:
    return importlib.import_module(f"{PACKAGE}.{name}")


async def test_r1_r5_r6_a_generated_client_drives_the_resellers_journey(
    api: Api, client_package: Path
) -> None:
    """R1, R5, R6: with only the generated client, a reseller registers, confirms, signs in,
    reads the offers, submits a claim with a PDF invoice (sent as a file part), reads it and
    finds it in the list."""
    offer = await api.create_offer()
    async with serving(api) as base_url:
        async with httpx.AsyncClient() as http:
            spec_text = (await http.get(f"{base_url}/openapi.json")).text
        printed = generate(spec_text, client_package)
        assert "Warning" not in printed, printed

        client_module = module("client")
        models: Any = module("models")
        types: Any = module("types")
        register: Any = module("api.accounts.accounts_register")
        confirm: Any = module("api.accounts.accounts_confirm_address")
        sign_in: Any = module("api.accounts.accounts_sign_in")
        me: Any = module("api.accounts.accounts_me")
        offers_list: Any = module("api.offers.offers_list")
        submit: Any = module("api.claims.claims_submit")
        read: Any = module("api.claims.claims_read")
        claims_list: Any = module("api.claims.claims_list")

        anonymous = client_module.Client(base_url=base_url)
        email = "claims@northwind-generated.example"
        registered = await register.asyncio_detailed(
            client=anonymous,
            body=models.ResellerRegistration(
                company_name="Northwind Traders GmbH",
                country=models.ResellerRegistrationCountry.DE,
                email=email,
                password=PASSWORD,
                vat_id=new_vat_id(),
            ),
        )
        assert registered.status_code == 202, registered.content
        confirmed = await confirm.asyncio_detailed(
            client=anonymous, body=models.ConfirmationRequest(token=api.link_token(email))
        )
        assert confirmed.status_code == 200, confirmed.content
        token = await sign_in.asyncio(
            client=anonymous, body=models.AccountsSignInForm(username=email, password=PASSWORD)
        )
        assert isinstance(token, models.TokenRead), token
        reseller = client_module.AuthenticatedClient(base_url=base_url, token=token.access_token)
        who = await me.asyncio(client=reseller)
        assert isinstance(who, models.MeRead), who
        # R1: an operator approves the organisation (the operators' side, not the client's)
        approved = await api.http.post(
            f"/operator/resellers/{who.reseller_id}/approve", headers=api.operator
        )
        assert approved.status_code == 204, approved.text

        offers = await offers_list.asyncio(client=reseller)
        assert isinstance(offers, models.OfferList), offers
        listed = next(item for item in offers.offers if item.offer_id == offer["offer_id"])
        assert listed.terms_version == TERMS_VERSION

        agreement = new_agreement()
        submitted = await submit.asyncio_detailed(
            client=reseller,
            body=models.ClaimsSubmitForm(
                offer_id=listed.offer_id,
                agreement_number=agreement,
                customer_name="Fabrikam AG",
                reseller_name="Northwind Traders GmbH",
                terms_accepted_version=listed.terms_version,
                invoice=types.File(
                    payload=io.BytesIO(invoice_pdf()),
                    file_name="invoice.pdf",
                    mime_type="application/pdf",
                ),
            ),
            idempotency_key=f"generated-{agreement}",
        )
        assert submitted.status_code == 201, submitted.content
        claim = submitted.parsed
        assert isinstance(claim, models.ClaimSubmitted), claim
        assert claim.agreement_number == agreement

        read_back = await read.asyncio(claim_id=claim.claim_id, client=reseller)
        assert isinstance(read_back, models.ClaimRead), read_back
        assert read_back.claim_id == claim.claim_id
        assert read_back.invoice.content_type == "application/pdf"
        assert read_back.terms_accepted_version == TERMS_VERSION
        assert read_back.status.value in {ClaimStatus.SUBMITTED, ClaimStatus.UNDER_REVIEW}

        page = await claims_list.asyncio(client=reseller)
        assert isinstance(page, models.ClaimPage), page
        assert [item.claim_id for item in page.claims] == [claim.claim_id]

        # R6: the generated client cannot leave the T&C version out; a blank one is refused
        # with the same clear error as before (the contract's required parts are the API's).
        blank = await submit.asyncio_detailed(
            client=reseller,
            body=models.ClaimsSubmitForm(
                offer_id=listed.offer_id,
                agreement_number=new_agreement(),
                customer_name="Fabrikam AG",
                reseller_name="Northwind Traders GmbH",
                terms_accepted_version="",
                invoice=types.File(payload=io.BytesIO(invoice_pdf()), file_name="invoice.pdf"),
            ),
        )
        assert blank.status_code == 422, blank.content
        assert isinstance(blank.parsed, models.ErrorBody)
        assert blank.parsed.error == "terms_not_accepted"
