"""R13: docs/operators.md's ways to read a claim, against the running product (one stack and one
claim under review for the module): the guide's `python -m api.cli temporal` lines run the
bundled temporal CLI signed in (the claim's state decrypted, a refused `decide` update saying
why), and the Temporal Web UI shows the claim decrypted to an operator who signed in on
/codec/sign-in and set the codec in the UI's own dialog; signed out, it shows none of it."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from playwright.async_api import Browser, expect

from tests.browser.conftest import chromium as chromium
from tests.browser.conftest import chromium_path as chromium_path
from tests.e2e.stack import (
    OPERATOR,
    PASSWORD,
    Stack,
    create_operator,
    open_offer,
    register,
    running_stack,
    sign_in,
    submit_claim,
)
from tests.e2e.test_run_command import ROOT

pytestmark = pytest.mark.e2e

GUIDE = ROOT / "docs" / "operators.md"
DECRYPTED = "Office 2026 Cash Back"  # the offer's name: in the claim's input payload only


@dataclass(frozen=True)
class Guide:
    stack: Stack
    claim_id: str


async def _claim_under_review(stack: Stack) -> str:
    create_operator(stack)
    async with httpx.AsyncClient(base_url=stack.api, timeout=30) as http:
        operator = await sign_in(http, OPERATOR)
        company, vat_id = "Contoso Software GmbH", "DE136695976"
        offer_id = await open_offer(http, operator, "OL-GUIDE-1", company, vat_id)
        reseller = await register(http, stack, company, "claims@contoso.example", vat_id)
        return await submit_claim(http, reseller, offer_id, "OL-GUIDE-1", company)


@pytest.fixture(scope="module")
def guide(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Guide]:
    """The product as `make run` starts it, with an operator and a claim under review."""
    with running_stack(tmp_path_factory.mktemp("guide")) as stack:
        yield Guide(stack, asyncio.run(_claim_under_review(stack)))


def guide_lines() -> list[str]:
    """The `python -m api.cli temporal` lines of the guide's "Temporal's CLI" block."""
    text = GUIDE.read_text()
    block = text[text.index("<!-- cli-lines -->") :]
    block = block[block.index("```sh") + 5 : block.index("```", block.index("```sh") + 5)]
    joined = block.replace("\\\n", " ")
    return [" ".join(line.split()) for line in joined.splitlines() if line.strip()]


def run_line(stack: Stack, line: str, claim_id: str) -> subprocess.CompletedProcess[str]:
    """A guide line as a shell would run it, with the claim's id filled in."""
    command = line.replace("<claim id>", claim_id).replace("you@program.example", OPERATOR)
    command = command.replace("python ", f"{sys.executable} ", 1)
    environment = stack.env | {
        "CASHBACK_OPERATOR_PASSWORD": PASSWORD,
        "CASHBACK_TEMPORAL_ADDRESS": f"127.0.0.1:{stack.temporal_port}",
    }
    return subprocess.run(
        command, shell=True, cwd=ROOT, env=environment, capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip


def signed_in_tokens(stack: Stack) -> int:
    with sqlite3.connect(stack.data_dir / "cashback.sqlite3") as database:
        count: int = database.execute("SELECT count(*) FROM api_tokens").fetchone()[0]
    return count


def test_r13_the_guides_cli_lines_work_signed_in(guide: Guide) -> None:
    """R13: listing finds the claim by its search attribute, the `state` query prints its
    status in plain text, and a rejection without reasons is refused with the validator's
    reason (not "Encoded failure"); each line signs the operator out again."""
    lines = guide_lines()
    assert len(lines) == 3, lines
    tokens_before = signed_in_tokens(guide.stack)
    listed, queried, refused = (run_line(guide.stack, line, guide.claim_id) for line in lines)
    for line, result in zip(lines, (listed, queried, refused), strict=True):
        print(f"$ {line}\n{result.stdout}{result.stderr}")
    assert listed.returncode == 0, listed.stderr
    assert f"claim-{guide.claim_id}" in listed.stdout
    assert queried.returncode == 0, queried.stderr
    assert re.search(r'"status":\s*"UNDER_REVIEW"', queried.stdout), queried.stdout
    assert refused.returncode == 1
    assert "a rejection needs at least one reason for the reseller" in refused.stderr
    assert "Encoded failure" not in refused.stderr
    assert signed_in_tokens(guide.stack) == tokens_before  # each line signed out again


@pytest.mark.browser
async def test_r13_the_web_ui_shows_a_claim_decrypted_to_a_signed_in_operator(
    guide: Guide, chromium: Browser
) -> None:
    """R13: sign in on /codec/sign-in, set the UI's codec in its "Codec Server" dialog ("Include
    cross-origin credentials" on), and the claim's input shows decrypted; after signing out
    the UI shows the product's own message where the data was (sign in at the page, to read
    the claim's data), not "Codec Server could not connect", and none of the data."""
    stack = guide.stack
    shots = stack.data_dir.parent  # the guide's screenshots (docs/images) come from here
    ui = f"http://127.0.0.1:{stack.ui_port}"
    workflow_page = f"{ui}/namespaces/default/workflows/claim-{guide.claim_id}"
    context = await chromium.new_context(locale="en-GB")
    page = await context.new_page()
    try:
        await page.goto(f"{stack.api}/codec/sign-in")
        await page.get_by_label("E-mail address").fill(OPERATOR)
        await page.get_by_label("Password").fill(PASSWORD)
        await page.get_by_role("button", name="Sign in").click()
        await expect(page.locator("#session")).to_contain_text(f"Signed in as {OPERATOR}")
        endpoint = await page.locator("#codec-endpoint").inner_text()
        await page.screenshot(path=str(shots / "codec-sign-in.png"), full_page=True)

        await page.goto(workflow_page)
        await page.get_by_role("button", name="Codec Server").first.click()
        dialog = page.get_by_role("dialog")
        await dialog.get_by_text("Use my browser setting").click()
        await dialog.get_by_placeholder("Paste your endpoint here").fill(endpoint)
        await dialog.get_by_text("Include cross-origin credentials", exact=True).click()
        await expect(dialog.get_by_label("Include cross-origin credentials")).to_be_checked()
        await page.screenshot(path=str(shots / "temporal-ui-codec-dialog.png"))
        await dialog.get_by_role("button", name="Apply").click()
        await page.reload()
        await expect(page.get_by_text(DECRYPTED).first).to_be_visible(timeout=30_000)
        await page.screenshot(path=str(shots / "temporal-ui-decrypted.png"))

        await page.goto(f"{stack.api}/codec/sign-in")
        await page.get_by_role("button", name="Sign out").click()
        await page.goto(workflow_page)
        sign_in_here = f"Sign in at {stack.api}/codec/sign-in to read this claim's data"
        await expect(page.get_by_text(sign_in_here).first).to_be_visible(timeout=30_000)
        await page.screenshot(path=str(shots / "temporal-ui-signed-out.png"))
        await expect(page.get_by_text(DECRYPTED)).to_have_count(0)
        await expect(page.get_by_text("could not connect")).to_have_count(0)
    finally:
        await context.close()
