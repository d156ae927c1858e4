"""R13: an operator signs in for the codec on its page in a real browser, sees as whom, and
signs out; the browser's cookie then no longer opens the codec."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect

from api.accounts import create_operator
from tests.api.harness import PASSWORD, Api

pytestmark = [pytest.mark.browser]


async def test_r13_operator_signs_in_and_out_on_the_codec_page(
    api: Api, served: str, chromium: Browser
) -> None:
    """R13: the English page offers the form and the codec settings; a wrong password is said
    on the page; the right one shows "Signed in as"; signing out shows the form again."""
    email = "olga-browser@program.example"
    create_operator(api.services.database, email, PASSWORD)
    context = await chromium.new_context(locale="en-GB")
    page = await context.new_page()
    try:
        opened = await page.goto(served + "/codec/sign-in")
        assert opened is not None
        assert opened.status == 200
        await expect(page.locator("#codec-endpoint")).to_have_text(
            api.services.settings.public_base_url + "/codec"
        )
        await expect(page.locator("#codec-credentials")).to_have_text("on")

        await page.get_by_label("E-mail address").fill(email)
        await page.get_by_label("Password").fill("not-the-password-1")
        await page.get_by_role("button", name="Sign in").click()
        await expect(page.locator("#problem")).to_have_text("Wrong e-mail address or password.")

        await page.get_by_label("Password").fill(PASSWORD)
        await page.get_by_role("button", name="Sign in").click()
        await expect(page.locator("#session")).to_contain_text(f"Signed in as {email}")
        cookies = await context.cookies()
        assert [(c["name"], c["path"], c["httpOnly"]) for c in cookies] == [
            ("cashback_session", "/codec", True)
        ]
        decoded = await page.request.post(served + "/codec/decode", data={"payloads": []})
        assert decoded.status == 200

        await page.get_by_role("button", name="Sign out").click()
        await expect(page.locator("#session")).to_have_attribute("data-signed-in", "false")
        assert await context.cookies() == []
        refused = await page.request.post(served + "/codec/decode", data={"payloads": []})
        assert refused.status == 401

        await page.goto(served + "/codec/sign-in?lang=de")
        await expect(page.get_by_role("heading", level=1)).to_have_text(
            "Anmeldung für den Codec-Server"
        )
    finally:
        await context.close()
