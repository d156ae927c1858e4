"""Fixtures of the browser tests: the `api` fixture's app and claim worker, served by uvicorn
on a free loopback port, and Debian's chromium driven by Playwright (no browser download).

A missing chromium fails the tests, it never skips them: `.ci/run` installs it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import uvicorn
from playwright.async_api import Browser, async_playwright

from bench.stack import free_port
from tests.api.conftest import api as api
from tests.api.conftest import settings_overrides as settings_overrides
from tests.api.harness import Api

__all__ = ["api", "settings_overrides"]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
async def served(api: Api) -> AsyncIterator[str]:
    """The base URL of the `api` fixture's app (and so its claim worker), served by uvicorn in
    this event loop."""
    port = free_port()
    config = uvicorn.Config(
        api.app,
        host="127.0.0.1",
        port=port,
        lifespan="off",
        # Leave logging as pytest set it up: uvicorn's own config (and `access_log=False`) stop
        # propagation to the root logger for the rest of the session. At "warning" the access
        # log, whose URLs carry one-time tokens, writes nothing.
        log_config=None,
        log_level="warning",
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    async with asyncio.timeout(10):
        while not server.started:
            assert not serving.done(), "uvicorn stopped while starting"
            await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await serving


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    """Debian's chromium; a missing one is a failure, never a skip."""
    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: apt-get install -y chromium"
    return CHROMIUM


@pytest.fixture
async def chromium(chromium_path: Path) -> AsyncIterator[Browser]:
    """A headless chromium driven by Playwright."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(chromium_path), args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            await browser.close()
