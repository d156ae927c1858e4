"""The reseller portal in Debian's chromium (Playwright): the whole journey and its errors, with
axe-core (tests/browser/axe/) run in every page: 0 serious or critical findings. With
`CASHBACK_SCREENSHOTS=docs/images` the pages are saved in German and English for the docs.

The journey: register (a free-mail address refused at its field), confirm the address, be
approved, sign in, read the offer and accept its terms, submit a claim with a PDF (the upload
script on), see it under review, follow the e-mail's bank-details link, see it PAID with the
remittance. The errors: a file of the wrong type (refused by the page's script, and by the
server when its name lies), a duplicate (D1), a closed claim period (R4), another reseller's
claim (404) and a form posted from another site (403)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, FilePayload, Page, expect
from sqlalchemy import select

from cashback.claims import claim_workflow_id
from cashback.db.tables import User
from cashback.domain.status import ClaimStatus
from tests.api.claims_helpers import invoice_pdf
from tests.api.harness import PASSWORD, Api
from tests.api.test_bank_details_page import COMPANY, IBAN, link_in
from tests.claim_waits import claim_outcome
from tests.identities import new_vat_id
from tests.integration.program import RealProgram
from workflows.claim import ClaimWorkflow

pytestmark = [pytest.mark.browser, pytest.mark.workflow, pytest.mark.smtp]


@pytest.fixture(autouse=True)
def _screenshots_folder() -> None:
    if SCREENSHOTS is not None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)


AXE = (Path(__file__).parent / "axe" / "axe.min.js").read_text()
# Screenshots only when asked for (they cost seconds): `CASHBACK_SCREENSHOTS=docs/images`.
SCREENSHOTS = (
    Path(os.environ["CASHBACK_SCREENSHOTS"]) if "CASHBACK_SCREENSHOTS" in os.environ else None
)
PDF = FilePayload(name="invoice.pdf", mimeType="application/pdf", buffer=invoice_pdf())


async def accessible(page: Page, name: str) -> None:
    """axe-core in the page: no serious or critical finding; then its screenshot."""
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.evaluate(AXE)
    result: dict[str, Any] = await page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    found = [
        f"{violation['id']} ({violation['impact']}): "
        + "; ".join(node["target"][0] for node in violation["nodes"])
        for violation in result["violations"]
        if violation["impact"] in ("serious", "critical")
    ]
    assert not found, f"axe-core on {page.url}: {found}"
    if SCREENSHOTS is not None:
        await page.screenshot(path=SCREENSHOTS / f"portal-{name}.png", full_page=True)


async def in_both_languages(page: Page, name: str) -> None:
    """The page (a GET) checked in the other language and then in its own again. In the default
    run (no screenshots) in its own language only: both share one template, and the seconds a
    second language costs on every page count in the suite's budget; `CASHBACK_SCREENSHOTS`
    runs both."""
    own = await page.locator("html").get_attribute("lang")
    assert own in ("de", "en")
    if SCREENSHOTS is None:
        await accessible(page, f"{name}-{own}")
        return
    base = page.url.split("?lang=")[0].split("&lang=")[0]
    joiner = "&" if "?" in base else "?"
    for language in [("en" if own == "de" else "de"), own]:
        await page.goto(f"{base}{joiner}lang={language}")
        await expect(page.locator("html")).to_have_attribute("lang", language)
        await accessible(page, f"{name}-{language}")


async def status_shown(page: Page, status: ClaimStatus, seconds: float = 30) -> None:
    """Reload the claim's page until it shows `status` (the read model catches up)."""
    shown = page.locator("#claim-status")
    for _ in range(int(seconds * 4)):
        if await shown.get_attribute("data-status") == status.value:
            return
        await page.wait_for_timeout(250)
        await page.reload()
    await expect(shown).to_have_attribute("data-status", status.value)


async def test_r1_r5_r6_r10_r14_d2_a_reseller_goes_from_registration_to_payout(
    api: Api, served: str, chromium: Browser
) -> None:
    """R1, R5, R6, R10, R13, R14, R17: the whole journey in German, every page accessible."""
    offer = await api.create_offer()
    vat_id = new_vat_id()
    page = await chromium.new_page(locale="de-DE")
    try:
        await page.goto(f"{served}/portal/register")
        await expect(page.get_by_role("heading", level=1)).to_have_text("Unternehmen registrieren")
        await in_both_languages(page, "register")
        await page.get_by_label("Name des Unternehmens (Firmenname)").fill(COMPANY)
        await page.get_by_label("Land").select_option("DE")
        await page.get_by_label("E-Mail-Adresse Ihres Unternehmens").fill("contoso@gmail.com")
        await page.get_by_label("Passwort").fill(PASSWORD)
        await page.get_by_label("Umsatzsteuer-Identifikationsnummer").fill(vat_id)
        await page.get_by_role("button", name="Registrieren").click()
        await expect(page.locator("#email-error")).to_contain_text(
            "Freemail-Adressen sind ausgeschlossen (R1)"
        )
        await expect(page.get_by_label("E-Mail-Adresse Ihres Unternehmens")).to_have_attribute(
            "aria-invalid", "true"
        )
        await accessible(page, "register-free-mail-de")

        email = "claims@contoso-portal.example"
        await page.get_by_label("E-Mail-Adresse Ihres Unternehmens").fill(email)
        await page.get_by_label("Passwort").fill(PASSWORD)
        await page.get_by_role("button", name="Registrieren").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text(
            "Bitte sehen Sie in Ihr Postfach"
        )
        await accessible(page, "registered-de")

        # R1: the address confirmed with the mail's link, the organisation approved.
        await page.goto(f"{served}/auth/confirm?token={api.link_token(email)}")
        with api.services.database.reading() as session:
            reseller_id = session.scalar(select(User.reseller_id).where(User.email == email))
        approved = await api.http.post(
            f"/operator/resellers/{reseller_id}/approve", headers=api.operator
        )
        assert approved.status_code == 204
        agreement = "OL-PORTAL-4711"
        api.add_licensing_record(agreement, reseller_name=COMPANY, seller_id=vat_id)

        await page.goto(f"{served}/portal/")
        await expect(page.get_by_role("heading", level=1)).to_have_text(
            "Anmeldung zum Cashback-Programm"
        )
        await in_both_languages(page, "sign-in")
        await page.get_by_label("E-Mail-Adresse Ihres Unternehmens").fill(email)
        await page.get_by_label("Passwort").fill(PASSWORD)
        await page.get_by_role("button", name="Anmelden").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text("Meine Anträge")
        await accessible(page, "claims-empty-de")

        await page.get_by_role("link", name="Angebote").click()
        await expect(page.get_by_role("heading", level=2)).to_have_text(offer["name"])
        await page.get_by_text("Teilnahmebedingungen lesen").click()
        await expect(page.locator(f"#terms-{offer['offer_id']}")).to_be_visible()
        await in_both_languages(page, "offers")
        await page.get_by_role("link", name="Antrag für dieses Angebot stellen").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text("Antrag stellen")
        await in_both_languages(page, "claim-form")

        await page.get_by_label("Nummer des Open-License-Vertrags").fill(agreement)
        await page.get_by_label("Name des Endkunden").fill("Fabrikam AG")
        await expect(page.get_by_label("Name des Resellers laut Vertrag")).to_have_value(COMPANY)
        await page.get_by_label("Rechnung an den Kunden").set_input_files(PDF)
        await page.get_by_label(re.compile("Ich habe die Teilnahmebedingungen gelesen")).check()
        await page.get_by_role("button", name="Antrag stellen").click()
        await expect(page).to_have_url(re.compile(r"/portal/claims/c_[0-9a-f]+$"))
        claim_id = page.url.rsplit("/", 1)[-1]

        await status_shown(page, ClaimStatus.UNDER_REVIEW)
        await expect(page.locator("#review-deadline")).to_be_visible()
        await in_both_languages(page, "claim-under-review")

        settings = api.services.settings
        program = RealProgram(api.env, settings, api.services.database, settings.task_queue)
        handle = api.services.temporal.get_workflow_handle_for(
            ClaimWorkflow.run, claim_workflow_id(claim_id)
        )
        await program.approve(handle)
        await program.wait_for(handle, ClaimStatus.AWAITING_BANK_DETAILS, notices=3)
        await status_shown(page, ClaimStatus.AWAITING_BANK_DETAILS)
        await expect(page.locator("#bank-details-request")).to_contain_text(
            "Link zur sicheren Seite"
        )
        await expect(page.locator("#amount")).to_contain_text("250,00 EUR")
        await in_both_languages(page, "claim-awaiting-bank-details")

        # R13: the e-mail's link, for this claim only.
        await page.goto(served + link_in(api, claim_id, "bank_details_request/1"))
        await page.get_by_label("Kontoinhaber", exact=True).fill(COMPANY)
        await page.get_by_label("IBAN", exact=True).fill(IBAN)
        await page.get_by_role("button", name="Bankverbindung übermitteln").click()
        await expect(page.locator("#outcome")).to_have_attribute("data-judgement", "valid")
        assert (await claim_outcome(handle, 30)).status is ClaimStatus.PAID

        await page.goto(f"{served}/portal/claims/{claim_id}")
        await status_shown(page, ClaimStatus.PAID)
        await expect(page.locator("#remittance")).to_contain_text("250,00 EUR")
        await expect(page.locator("#support")).to_contain_text(settings.support_address)  # R17
        await in_both_languages(page, "claim-paid")
        await page.get_by_role("link", name="Meine Anträge").click()
        await expect(page.locator(f'tr[data-claim="{claim_id}"]')).to_contain_text("Ausgezahlt")
        await in_both_languages(page, "claims")

        await page.get_by_role("link", name="Konto").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text("Ihr Konto")
        await in_both_languages(page, "account")
        await page.get_by_role("button", name="Abmelden").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text(
            "Anmeldung zum Cashback-Programm"
        )
        await page.get_by_role("link", name="Passwort vergessen?").click()
        await in_both_languages(page, "forgot-password")
        await page.get_by_label("E-Mail-Adresse Ihres Unternehmens").fill(email)
        await page.get_by_role("button", name="Link senden").click()
        await expect(page.locator("#reset-sent")).to_be_visible()
        [mail] = [d for d in api.mailbox.deliveries if "Passwort" in str(d.message["Subject"])]
        reset = re.search(r"/portal/password-reset\?token=[\w-]+", mail.part("plain"))
        assert reset is not None
        await page.goto(served + reset.group(0))
        await in_both_languages(page, "new-password")
    finally:
        await page.close()


async def test_r4_r5_d1_the_portals_errors_tenancy_and_a_cross_site_form_in_chromium(
    api: Api, served: str, chromium: Browser
) -> None:
    """Signing in works by keyboard alone; the claim form works without JavaScript too. R5: a
    text file is refused by the page's script before any upload, a file whose name lies by the
    server, both at the invoice field; D1: a duplicate at the agreement number; R4: a period
    closed while the form was open, at the top; another reseller's claim: 404; a form another
    site posts with the reseller's browser: 403, nothing changed."""
    reseller = await api.register(language="en")
    other = await api.register("Fabrikam Reseller GmbH", language="en")
    offer = await api.create_offer()
    page = await chromium.new_page(locale="en-GB")
    try:
        # Keyboard only: the skip link comes first, then the form's fields in reading order.
        await page.goto(f"{served}/portal/sign-in")
        await page.keyboard.press("Tab")
        await expect(page.locator(".skip")).to_be_focused()
        await page.keyboard.press("Enter")
        await page.keyboard.press("Tab")
        await expect(page.get_by_label("Company e-mail address")).to_be_focused()
        await page.keyboard.type(reseller.email)
        await page.keyboard.press("Tab")
        await expect(page.get_by_label("Password")).to_be_focused()
        await page.keyboard.type(PASSWORD)
        await page.keyboard.press("Enter")
        await expect(page.get_by_role("heading", level=1)).to_have_text("My claims")

        form = f"{served}/portal/claims/new?offer={offer['offer_id']}"
        await page.goto(form)
        await page.get_by_label("Open License agreement number").fill("OL-ERR-1")
        await page.get_by_label("End customer's name").fill("Fabrikam AG")
        await page.get_by_label(re.compile("I have read and accept")).check()
        await page.get_by_label("Customer invoice").set_input_files(
            {"name": "invoice.txt", "mimeType": "text/plain", "buffer": b"not an invoice"}
        )
        await expect(page.locator("#invoice-client-error")).to_have_text(
            "The invoice must be a PDF, PNG or JPEG file."
        )
        await page.get_by_label("Customer invoice").set_input_files(
            {"name": "invoice.pdf", "mimeType": "application/pdf", "buffer": b"GIF89a a lie"}
        )
        await page.get_by_role("button", name="Submit the claim").click()
        await expect(page.locator("#invoice-error")).to_contain_text(
            "R5: the invoice must be a PDF, PNG or JPEG file"
        )
        await expect(page.get_by_label("Open License agreement number")).to_have_value("OL-ERR-1")
        await accessible(page, "claim-form-wrong-type-en")

        await page.get_by_label("Customer invoice").set_input_files(PDF)
        await page.get_by_role("button", name="Submit the claim").click()
        await expect(page).to_have_url(re.compile(r"/portal/claims/c_[0-9a-f]+$"))
        mine = page.url

        # Without JavaScript the same form posts the same fields: the claim's page follows.
        plain = await chromium.new_context(java_script_enabled=False, locale="en-GB")
        try:
            no_script = await plain.new_page()
            await no_script.goto(
                f"{served}/portal/sign-in?next=%2Fportal%2Fclaims%2Fnew%3Foffer%3D{offer['offer_id']}"
            )
            await no_script.get_by_label("Company e-mail address").fill(reseller.email)
            await no_script.get_by_label("Password").fill(PASSWORD)
            await no_script.get_by_role("button", name="Sign in").click()
            await no_script.get_by_label("Open License agreement number").fill("OL-NOJS-1")
            await no_script.get_by_label("End customer's name").fill("Fabrikam AG")
            await no_script.get_by_label(re.compile("I have read and accept")).check()
            await no_script.get_by_label("Customer invoice").set_input_files(PDF)
            await no_script.get_by_role("button", name="Submit the claim").click()
            await expect(no_script.locator("#claim-status")).to_be_visible()
            await expect(no_script.locator("dl.facts")).to_contain_text("OL-NOJS-1")
        finally:
            await plain.close()

        await page.goto(form)
        await page.get_by_label("Open License agreement number").fill("ol err 1")
        await page.get_by_label("End customer's name").fill("Fabrikam AG")
        await page.get_by_label(re.compile("I have read and accept")).check()
        await page.get_by_label("Customer invoice").set_input_files(PDF)
        await page.get_by_role("button", name="Submit the claim").click()
        await expect(page.locator("#agreement_number-error")).to_contain_text("D1: offer")
        await accessible(page, "claim-form-duplicate-en")

        await page.goto(form)
        closed = await api.http.post(
            f"/operator/offers/{offer['offer_id']}/close", headers=api.operator
        )
        assert closed.status_code == 200
        await page.get_by_label("Open License agreement number").fill("OL-ERR-2")
        await page.get_by_label("End customer's name").fill("Fabrikam AG")
        await page.get_by_label(re.compile("I have read and accept")).check()
        await page.get_by_label("Customer invoice").set_input_files(PDF)
        await page.get_by_role("button", name="Submit the claim").click()
        await expect(page.locator("#offer-error")).to_contain_text("R4: offer")
        await accessible(page, "claim-form-closed-en")

        theirs = await api.http.post(
            "/claims",
            data={
                "offer_id": (await api.create_offer())["offer_id"],
                "agreement_number": "OL-THEIRS-1",
                "customer_name": "Fabrikam AG",
                "reseller_name": "Fabrikam Reseller GmbH",
                "terms_accepted_version": offer["terms_version"],
            },
            files={"invoice": ("invoice.pdf", invoice_pdf(), "application/pdf")},
            headers=other.headers,
        )
        assert theirs.status_code == 201, theirs.text
        foreign = await page.goto(f"{served}/portal/claims/{theirs.json()['claim_id']}")
        assert foreign is not None
        assert foreign.status == 404
        await expect(page.get_by_role("heading", level=1)).to_have_text("Claim not found")
        await in_both_languages(page, "claim-not-found")

        # Another site's page posts the sign-out form with this browser's cookies.
        await page.route(
            "https://attacker.example/**",
            lambda route: route.fulfill(
                content_type="text/html",
                body=f'<html lang="en"><body><form method="post" action="{served}/portal/sign-out">'
                '<input type="hidden" name="csrf" value="guessed">'
                '<button type="submit">Win a prize</button></form></body></html>',
            ),
        )
        await page.goto("https://attacker.example/prize")
        async with page.expect_response(f"{served}/portal/sign-out") as posted:
            await page.get_by_role("button", name="Win a prize").click()
        assert (await posted.value).status == 403
        await page.goto(mine)
        await expect(page.get_by_role("heading", level=1)).to_contain_text("Claim c_")  # signed in
    finally:
        await page.close()
