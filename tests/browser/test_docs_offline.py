"""`/docs` on a machine without internet (issue 12): Swagger UI's script and style come from
the API itself (the fastapi-offline package's files), so the page lists the operations while
chromium may reach nothing but loopback."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, Route, expect

pytestmark = [pytest.mark.browser]


async def test_docs_list_the_operations_with_only_loopback_reachable(
    served: str, chromium: Browser
) -> None:
    """Every request to a host other than 127.0.0.1 is aborted; the viewer still renders the
    operations, its assets were served by the API, and nothing tried to leave the machine."""
    blocked: list[str] = []
    loaded: list[str] = []

    async def loopback_only(route: Route) -> None:
        url = route.request.url
        if urlsplit(url).hostname == "127.0.0.1":
            loaded.append(url)
            await route.continue_()
        else:
            blocked.append(url)
            await route.abort("internetdisconnected")

    page = await chromium.new_page()
    try:
        await page.route("**/*", loopback_only)
        opened = await page.goto(served + "/docs")
        assert opened is not None
        assert opened.status == 200
        await expect(page.locator(".opblock").first).to_be_visible(timeout=15_000)
        paths = await page.locator(".opblock-summary-path").all_inner_texts()
        assert any(path.strip() == "/claims" for path in paths), paths
        assert any(path.strip() == "/auth/token" for path in paths), paths
        assert any(url.endswith("/swagger-ui-bundle.js") for url in loaded), loaded
        assert any(url.endswith("/swagger-ui.css") for url in loaded), loaded
        assert blocked == []
    finally:
        await page.close()
