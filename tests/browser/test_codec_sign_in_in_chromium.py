"""R13: an operator signs in for the codec on its page in a real browser, sees as whom, and
signs out; the browser's cookie then no longer opens the codec, and the Web UI's decode call
(as the UI makes it, from its origin with the browser's credentials) gets the product's own
message to show instead of the data. The real Web UI is driven by
tests/e2e/test_operators_guide.py."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, expect
from temporalio.api.common.v1 import Payload

from api.accounts import create_operator
from bench.stack import free_port
from cashback.wiring import payload_codec
from tests.api.harness import PASSWORD, Api
from tests.api.test_codec import as_json
from tests.api.test_codec_sign_in import shown_by_the_web_ui

pytestmark = [pytest.mark.browser]

WEB_UI_PORT = free_port()
WEB_UI = f"http://127.0.0.1:{WEB_UI_PORT}"

# The Temporal Web UI's request to the codec (ui: src/lib/services/data-encoder.ts), with
# "Include cross-origin credentials" on.
DECODE_AS_THE_WEB_UI = """async ([url, body]) => {
  const response = await fetch(url, {
    method: "POST", credentials: "include", body: JSON.stringify(body),
    headers: {"Content-Type": "application/json", "X-Namespace": "default"},
  });
  return {status: response.status, body: await response.json()};
}"""


class _BlankPage(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<!doctype html><title>Temporal Web UI stand-in</title>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """The stand-in Web UI's origin is the codec's allowed CORS origin."""
    return {"codec_cors_origins": [WEB_UI]}


@pytest.fixture
def web_ui() -> Iterator[str]:
    """A blank page served on loopback at the Web UI's origin (Chromium lets only a page on
    loopback call a loopback address)."""
    server = ThreadingHTTPServer(("127.0.0.1", WEB_UI_PORT), _BlankPage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield WEB_UI
    finally:
        server.shutdown()
        server.server_close()


async def decode_in_the_web_ui(
    context: BrowserContext, web_ui: str, codec: str, body: dict[str, Any]
) -> dict[str, Any]:
    """What a page at the Web UI's origin gets from the codec's decode endpoint."""
    page = await context.new_page()
    try:
        await page.goto(web_ui + "/namespaces/default/workflows")
        answer: dict[str, Any] = await page.evaluate(
            DECODE_AS_THE_WEB_UI, [codec + "/decode", body]
        )
        return answer
    finally:
        await page.close()


async def test_r13_operator_signs_in_and_out_on_the_codec_page(
    api: Api, served: str, chromium: Browser, web_ui: str
) -> None:
    """R13: the English page offers the form and the codec settings; a wrong password is said
    on the page; the right one shows "Signed in as"; signing out shows the form again."""
    email = "olga-browser@program.example"
    create_operator(api.services.database, email, PASSWORD)
    plain = Payload(metadata={"encoding": b"json/plain"}, data=b'"Office 2026 Cash Back"')
    sealed = (await payload_codec(api.services.settings).encode([plain]))[0]
    body = {"payloads": [as_json(sealed)]}
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
        in_the_ui = await decode_in_the_web_ui(context, web_ui, served + "/codec", body)
        assert in_the_ui["status"] == 200
        assert shown_by_the_web_ui(in_the_ui["body"]) == ["Office 2026 Cash Back"]

        await page.get_by_role("button", name="Sign out").click()
        await expect(page.locator("#session")).to_have_attribute("data-signed-in", "false")
        assert await context.cookies() == []
        refused = await page.request.post(served + "/codec/decode", data={"payloads": []})
        assert refused.status == 401
        # The Web UI is answered with the product's message in place of the data, which it
        # shows; a 401 it would only report as "Codec Server could not connect".
        in_the_ui = await decode_in_the_web_ui(context, web_ui, served + "/codec", body)
        assert in_the_ui["status"] == 200
        shown = shown_by_the_web_ui(in_the_ui["body"])
        page_url = api.services.settings.public_base_url + "/codec/sign-in"
        assert shown == [{"sign_in": f"Sign in at {page_url} to read this claim's data (with "
                          "“Include cross-origin credentials” on in the Web UI's Codec Server "
                          "settings)"}]  # fmt: skip
        assert "Office" not in str(in_the_ui)

        await page.goto(served + "/codec/sign-in?lang=de")
        await expect(page.get_by_role("heading", level=1)).to_have_text(
            "Anmeldung für den Codec-Server"
        )
    finally:
        await context.close()
