"""Issue 13: an operator signs in to the dashboard in a real browser, sees the charts (SVG
drawn on the server, no script, nothing fetched from anywhere but the API), follows a breach to
its claim, and switches to German. `CASHBACK_UPDATE_SCREENSHOTS=1` writes the screenshots of
docs/images/ anew."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.async_api import Browser, Request, expect

from api.accounts import create_operator
from tests.api.harness import PASSWORD, Api
from tests.reports_data import AS_OF, seed_reports

pytestmark = [pytest.mark.browser]

IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"


async def test_operator_reads_the_dashboard_and_follows_a_breach_to_its_claim(
    api: Api, served: str, chromium: Browser, tmp_path: Path
) -> None:
    """R9, R14: the breaches (c2 decided late, c5 paid late, c4 undecided, c7 unpaid) are
    listed and linked; the funnel, SLA, waiting and budget burn (D7) charts are drawn; every
    request stays on the API's own address."""
    with api.services.database.transaction() as session:
        seed_reports(session)
    email = "olga-dashboard@program.example"
    create_operator(api.services.database, email, PASSWORD)
    shots = IMAGES if os.environ.get("CASHBACK_UPDATE_SCREENSHOTS") == "1" else tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    context = await chromium.new_context(locale="en-GB", viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    elsewhere: list[str] = []

    def watch(request: Request) -> None:
        if not request.url.startswith(served):
            elsewhere.append(request.url)

    page.on("request", watch)
    try:
        opened = await page.goto(f"{served}/operator/dashboard?as_of={AS_OF.isoformat()}")
        assert opened is not None
        assert opened.status == 401
        await page.get_by_label("E-mail address").fill(email)
        await page.get_by_label("Password").fill(PASSWORD)
        await page.get_by_role("button", name="Sign in").click()
        await expect(page.locator("#signed-in-as")).to_contain_text(email)
        cookies = await context.cookies()
        assert [(c["name"], c["path"], c["httpOnly"]) for c in cookies] == [
            ("cashback_session", "/operator/dashboard", True)
        ]

        await page.get_by_label("As of").fill(AS_OF.isoformat())
        await page.get_by_role("button", name="Show").click()
        for chart in ("funnel", "sla", "waiting", "budget_burn"):
            await expect(page.locator(f"#chart-{chart} svg")).to_be_visible()
        await expect(page.locator("#chart-sla svg")).to_contain_text("2026-03")
        await expect(page.locator("#chart-budget_burn svg")).to_contain_text("35% + 5%")
        await expect(page.locator("#chart-budget_burn svg")).to_contain_text("no budget")
        await expect(page.locator("#breach-list tbody tr")).to_have_count(4)
        await page.screenshot(path=str(shots / "dashboard-en.png"), full_page=True)

        await page.locator("#breach-list").get_by_role("link", name="c4").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text("Claim c4")
        await expect(page.locator("#claim-status")).to_have_text("under review")
        await page.screenshot(path=str(shots / "dashboard-claim-en.png"), full_page=True)

        await page.get_by_role("link", name="Back to the dashboard").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text("Programme dashboard")
        await page.goto(f"{served}/operator/dashboard?lang=en&as_of={AS_OF.isoformat()}")
        await page.get_by_role("link", name="Deutsch").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text("Programm-Übersicht")
        await expect(page.locator("#chart-funnel svg")).to_contain_text("ausgezahlt")
        await expect(page.locator("#chart-budget_burn svg")).to_contain_text("kein Budget")
        await expect(page.locator("#breach-list tbody tr")).to_have_count(4)  # as_of kept
        await page.screenshot(path=str(shots / "dashboard-de.png"), full_page=True)

        await page.get_by_role("button", name="Abmelden").click()
        await expect(page.get_by_role("button", name="Anmelden")).to_be_visible()
        assert await context.cookies() == []
        assert elsewhere == []
    finally:
        await context.close()
