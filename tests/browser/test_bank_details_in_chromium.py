"""The secure bank-details page in a real browser (R10-R13): the reseller opens the link of
the request e-mail the SMTP server received, mistypes the IBAN (the error shows next to the
field, nothing is stored), corrects it, submits, sees the confirmation; the link then no longer
works. The page offers no way to set the details of later claims (R10: only signed in)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from api.bank_details import SECURITY_HEADERS
from cashback.domain.status import ClaimStatus
from tests.api.harness import Api
from tests.api.test_bank_details_page import (
    COMPANY,
    IBAN,
    IBAN_WITH_TYPO,
    MASKED,
    bank_accounts_stored,
    claim_awaiting_bank_details,
)
from tests.claim_waits import claim_outcome

pytestmark = [pytest.mark.browser, pytest.mark.workflow, pytest.mark.smtp]

SCREENSHOTS = Path(os.environ.get("CASHBACK_SCREENSHOTS", "/tmp"))


async def test_r10_r13_reseller_gives_bank_details_in_chromium(
    api: Api, served: str, chromium: Browser
) -> None:
    """R13: the e-mail's link opens the German form, for this claim only (R10: no choice of
    "later claims too"); a typo in the IBAN is shown at the field and stores nothing (the link
    stays valid); the corrected details are accepted (R11), the claim is paid (R14), and the
    link is spent (410)."""
    awaiting = await claim_awaiting_bank_details(api)
    # The e-mail names the configured public URL; the same path on the served app.
    link = served + awaiting.link
    page = await chromium.new_page(locale="de-DE")
    try:
        opened = await page.goto(link)
        assert opened is not None
        assert opened.status == 200
        for header, value in SECURITY_HEADERS.items():
            assert await opened.header_value(header) == value
        await expect(page.get_by_role("heading", level=1)).to_have_text(
            "Ihre Bankverbindung für das Cashback"
        )
        await expect(page.locator("dl.facts")).to_contain_text("250,00 EUR")
        await expect(page.locator('input[name="standing"]')).to_have_count(0)
        await expect(page.get_by_role("checkbox")).to_have_count(0)
        await expect(page.locator("#this-claim-only")).to_contain_text("gilt nur für diesen Antrag")

        await page.get_by_label("Kontoinhaber", exact=True).fill(COMPANY)
        await page.get_by_label("ein Unternehmen").check()
        await page.get_by_label("IBAN", exact=True).fill(IBAN_WITH_TYPO)
        await page.get_by_label("BIC (optional)").fill("COBADEFFXXX")
        await page.get_by_role("button", name="Bankverbindung übermitteln").click()
        await expect(page.locator("#iban-error")).to_have_text(
            "Die Prüfziffern dieser IBAN stimmen nicht: Bitte prüfen Sie sie auf Tippfehler."
        )
        await expect(page.get_by_label("IBAN", exact=True)).to_have_attribute(
            "aria-invalid", "true"
        )
        await expect(page.get_by_label("Kontoinhaber", exact=True)).to_have_value(COMPANY)
        await page.screenshot(path=SCREENSHOTS / "bank-details-typo.png", full_page=True)
        assert bank_accounts_stored(api) == 0
        assert api.services.invitations.claim_for(awaiting.token) == awaiting.claim_id

        await page.get_by_label("IBAN", exact=True).fill(IBAN)
        await page.get_by_role("button", name="Bankverbindung übermitteln").click()
        outcome = page.locator("#outcome")
        await expect(outcome).to_have_attribute("data-judgement", "valid")
        await expect(outcome).to_contain_text(MASKED)
        await expect(page.get_by_role("heading", level=1)).to_have_text(
            "Vielen Dank: Ihre Bankverbindung ist vollständig"
        )
        await page.screenshot(path=SCREENSHOTS / "bank-details-done.png", full_page=True)
        assert bank_accounts_stored(api) == 1
        paid = await claim_outcome(awaiting.handle, 30)
        assert paid.status is ClaimStatus.PAID

        spent = await page.goto(link)
        assert spent is not None
        assert spent.status == 410
        await expect(page.get_by_role("heading", level=1)).to_have_text(
            "Dieser Link wurde bereits verwendet"
        )
        await expect(page.locator("footer")).to_contain_text(api.services.settings.support_address)
    finally:
        await page.close()
