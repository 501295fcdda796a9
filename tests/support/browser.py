"""Headless Debian Chromium for the browser tests (never a downloaded browser), shared by tests/web and
tests/console."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
# Fixtures that call asyncio.run() (seeding the world, migrating a database) while Playwright is up.
ASYNCIO_FIXTURES = frozenset({"database_url", "settings", "stack"})


@contextmanager
def chromium() -> Iterator[Browser]:
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


def hide_playwright_loop(fixturedef: pytest.FixtureDef[Any]) -> Generator[None, Any, Any]:
    """Playwright's sync API marks its event loop as running in this thread between calls, so a plain
    asyncio.run() in a fixture would refuse to start; hide that loop while such a fixture sets up.
    Use from a `pytest_fixture_setup` wrapper: `return (yield from hide_playwright_loop(fixturedef))`."""
    if fixturedef.argname not in ASYNCIO_FIXTURES:
        return (yield)
    loop = asyncio._get_running_loop()
    asyncio._set_running_loop(None)
    try:
        return (yield)
    finally:
        asyncio._set_running_loop(loop)
