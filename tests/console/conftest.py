"""The agent console in headless Debian Chromium (never a downloaded browser) against the real stack."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, sync_playwright

from civdesk.config import Settings
from tests.conftest import TEST_SECRET
from tests.console.console_page import Console
from tests.support.stack import Stack

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
# Fixtures that call asyncio.run() (seeding the world, migrating a database) while Playwright is up.
_ASYNCIO_FIXTURES = frozenset({"database_url", "settings", "stack"})
# Short, so "the console closed" turns into "offline" within a test's patience.
PRESENCE_GRACE_SECONDS = 1.5


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        secret_key=TEST_SECRET,
        environment="test",
        delivery_poll_seconds=0.05,
        presence_grace_seconds=PRESENCE_GRACE_SECONDS,
    )


# Package scope, not session: while Playwright's sync API is up it marks its event loop as running in
# this thread, and the async tests that run after this package (tests/conversation …) would then fail.
@pytest.fixture(scope="package")
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
def console(stack: Stack, browser: Browser) -> Iterator[Callable[..., Console]]:
    """console(**context options) -> an agent's console tab in a fresh browser context (own storage)."""
    opened: list[Console] = []

    def make(**options: Any) -> Console:
        tab = Console(stack, browser, **options)
        opened.append(tab)
        return tab

    yield make
    problems = [problem for tab in opened for problem in tab.problems]
    for tab in opened:
        tab.close()
    assert not problems, problems
