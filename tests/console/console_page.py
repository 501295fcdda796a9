"""One agent's console tab, recording anything that went wrong in the page, with a switch that cuts
its websocket (Playwright routes the socket, so the test can drop it like a network failure)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from playwright.sync_api import Browser, Locator, Page, WebSocketRoute, expect

from tests.support.stack import Stack
from tests.support.world import PASSWORD

WS_URL = re.compile(r"/api/v1/ws\b")


class Console:
    def __init__(self, stack: Stack, browser: Browser, **options: Any) -> None:
        settings = {
            "locale": "uk-UA",
            "timezone_id": "Europe/Kyiv",
            "viewport": {"width": 1280, "height": 800},
            "permissions": ["local-network-access"],
        }
        self.stack = stack
        self.url = f"{stack.server.url}/console"
        self.context = browser.new_context(**{**settings, **options})
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.sockets: list[tuple[WebSocketRoute, WebSocketRoute]] = []
        self.socket_urls: list[str] = []
        self.cut = False
        self.page.on("pageerror", lambda exc: self.problems.append(f"uncaught error: {exc}"))
        self.page.on("console", self._console)
        self.page.route_web_socket(WS_URL, self._socket)
        self.closed = False

    def _console(self, message: Any) -> None:
        text = message.text
        if "Content Security Policy" in text:
            self.problems.append(f"CSP violation: {text}")
        elif message.type == "error" and not text.startswith("Failed to load resource") and "WebSocket" not in text:
            self.problems.append(f"console error: {text}")  # refused requests and cut sockets are expected

    def _socket(self, route: WebSocketRoute) -> None:
        self.socket_urls.append(route.url)
        if self.cut:
            route.close(code=4000, reason="cut by the test")
            return
        server = route.connect_to_server()
        self.sockets.append((route, server))

    def cut_socket(self) -> None:
        """Like a network failure: open sockets close, and reconnects fail until restore_socket()."""
        self.cut = True
        for route, server in self.sockets:
            server.close()
            route.close(code=4000, reason="cut by the test")
        self.sockets.clear()

    def restore_socket(self) -> None:
        self.cut = False

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.context.close()

    # -- pages

    def open(self) -> Page:
        self.page.goto(self.url)
        return self.page

    def login(self, email: str, password: str = PASSWORD) -> Page:
        page = self.open()
        page.get_by_label("Електронна пошта").fill(email)
        page.get_by_label("Пароль").fill(password)
        page.get_by_role("button", name="Увійти").click()
        self.wait_live()
        return page

    def wait_live(self) -> None:
        """Until the event stream said hello and the lists loaded: from then on new events are announced."""
        expect(self.page.locator("#app")).to_be_visible()
        expect(self.page.locator("#list-empty")).not_to_have_text("Завантаження розмов…")

    # -- what is on screen

    def view(self, name: str) -> Locator:
        return self.page.locator(f".views__button[data-view={name}]")

    def items(self) -> Locator:
        return self.page.locator("#list .item")

    def item(self, name: str) -> Locator:
        return self.page.locator("#list .item", has_text=name)

    def messages(self, kind: str | None = None) -> Locator:
        return self.page.locator(f"#log .msg--{kind}" if kind else "#log .msg")

    def focused(self) -> str:
        return str(self.page.evaluate("document.activeElement ? document.activeElement.id : ''"))

    def scroll_width(self) -> int:
        return int(self.page.evaluate("document.documentElement.scrollWidth"))


def until(page: Page, predicate: Callable[[], object], what: str, timeout_ms: int = 5000) -> None:
    """Polls while letting Playwright run its handlers (page.wait_for_function would need eval, which CSP forbids)."""
    for _ in range(timeout_ms // 50):
        if predicate():
            return
        page.wait_for_timeout(50)
    raise AssertionError(f"timed out waiting for {what}")
