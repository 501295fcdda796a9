"""Headless Chromium for browser tests: Debian's /usr/bin/chromium, never a downloaded browser."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, sync_playwright

from tests.support.stack import Stack
from tests.web.chat_page import Citizen

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
# Fixtures that call asyncio.run() (seeding the world, migrating a database) while Playwright is up.
_ASYNCIO_FIXTURES = frozenset({"database_url", "settings", "stack"})


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is required in CI (.ci/run installs Debian's chromium)")
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium package to run the browser tests")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest) -> Any:
    """Playwright's sync API marks its event loop as running in this thread between calls, so a plain
    asyncio.run() in a fixture would refuse to start; hide that loop while such a fixture sets up."""
    if fixturedef.argname not in _ASYNCIO_FIXTURES:
        return (yield)
    loop = asyncio._get_running_loop()
    asyncio._set_running_loop(None)
    try:
        return (yield)
    finally:
        asyncio._set_running_loop(loop)


@pytest.fixture
def citizen_in(stack: Stack, browser: Browser) -> Iterator[Callable[..., Citizen]]:
    """citizen_in(**context options) -> a Citizen in a fresh browser context (own localStorage)."""
    opened: list[tuple[BrowserContext, Citizen]] = []

    def make(**options: Any) -> Citizen:
        # The page comes through route.fulfill() (to add the CSP header), which leaves Chromium without the
        # server's address: it then treats the page as public and blocks its websocket to 127.0.0.1 under
        # Local Network Access unless the context grants it. Real users load the page from the server itself.
        settings = {"locale": "uk-UA", "timezone_id": "Europe/Kyiv", "viewport": {"width": 480, "height": 760},
                    "permissions": ["local-network-access"]}
        context = browser.new_context(**{**settings, **options})
        citizen = Citizen(stack, context)
        opened.append((context, citizen))
        return citizen

    yield make
    problems = [problem for _, citizen in opened for problem in citizen.problems]
    for context, _ in opened:
        context.close()
    assert not problems, problems
