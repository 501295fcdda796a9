"""Headless Chromium for browser tests: Debian's /usr/bin/chromium, never a downloaded browser."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext

from tests.support.browser import chromium, hide_playwright_loop
from tests.support.stack import Stack
from tests.web.chat_page import Citizen


# Package scope, as in tests/console: one Playwright at a time, whatever order the packages run in.
@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest) -> Any:
    return (yield from hide_playwright_loop(fixturedef))


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
