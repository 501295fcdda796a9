"""The agent console in headless Debian Chromium (never a downloaded browser) against the real stack."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser

from civdesk.config import Settings
from tests.conftest import TEST_SECRET
from tests.console.console_page import Console
from tests.support.browser import chromium, hide_playwright_loop
from tests.support.stack import Stack

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
    with chromium() as browser:
        yield browser


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest) -> Any:
    return (yield from hide_playwright_loop(fixturedef))


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
