"""Helpers for the browser tests: a citizen's tab on /chat/minsoc, and the agent on the API."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from playwright.sync_api import BrowserContext, Page, Request, Route, expect

from tests.support.stack import Stack
from tests.support.world import login, wait_for

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


class Citizen:
    """One browser tab on /chat/minsoc, recording what it sends and anything that went wrong."""

    def __init__(self, stack: Stack, context: BrowserContext) -> None:
        self.url = f"{stack.server.url}/chat/minsoc"
        self.page = context.new_page()
        self.problems: list[str] = []
        self.sent_ids: list[str] = []  # client_msg_id of every POST /messages, retries included
        self.page.on("pageerror", lambda exc: self.problems.append(f"uncaught error: {exc}"))
        self.page.on("console", self._console)
        self.page.on("request", self._request)
        self.page.route(re.compile(re.escape(self.url) + r"(\?.*)?$"), self._with_csp)  # ?lang= too

    def _with_csp(self, route: Route) -> None:
        response = route.fetch()
        route.fulfill(response=response, headers={**response.headers, "content-security-policy": CSP})

    def _console(self, message: Any) -> None:
        if "Content Security Policy" in message.text:
            self.problems.append(f"CSP violation: {message.text}")

    def _request(self, request: Request) -> None:
        if request.method == "POST" and request.url.endswith("/chat/minsoc/messages"):
            self.sent_ids.append(json.loads(request.post_data or "{}")["client_msg_id"])

    def open(self, query: str = "") -> Page:
        self.page.goto(self.url + query)
        expect(self.page.locator("#composer")).to_be_visible()
        return self.page

    def send(self, text: str) -> None:
        self.page.locator("#message").fill(text)
        self.page.locator("#message").press("Enter")

    def own(self) -> Any:
        return self.page.locator(".msg--own .msg__text")

    def replies(self) -> Any:
        return self.page.locator(".msg--agency .msg__text")

    def states(self) -> Any:
        return self.page.locator(".msg--own .msg__state")

    def focused(self) -> str:
        return str(self.page.evaluate("document.activeElement ? document.activeElement.id : ''"))

    def scroll_width(self) -> int:
        return int(self.page.evaluate("document.documentElement.scrollWidth"))


def until(page: Page, predicate: Callable[[], object], what: str, timeout_ms: int = 5000) -> None:
    """Like wait_for(), but lets Playwright run its event handlers (routes, listeners) meanwhile."""
    for _ in range(timeout_ms // 50):
        if predicate():
            return
        page.wait_for_timeout(50)
    raise AssertionError(f"timed out waiting for {what}")


class Agent:
    def __init__(self, stack: Stack) -> None:
        self.client = stack.client
        self.headers = login(stack.client, stack.world.agent_email)

    def conversation(self) -> dict[str, Any]:
        def find() -> list[dict[str, Any]]:
            response = self.client.get("/api/v1/conversations", headers=self.headers)
            response.raise_for_status()
            return [c for c in response.json()["items"] if c["channel_type"] == "webchat"]

        return wait_for(find, what="the web chat conversation")[0]

    def texts(self, conversation_id: int, direction: str = "in") -> list[str]:
        response = self.client.get(f"/api/v1/conversations/{conversation_id}/messages", headers=self.headers)
        response.raise_for_status()
        return [m["text"] for m in response.json()["items"] if m["direction"] == direction]

    def messages(self, conversation_id: int) -> list[dict[str, Any]]:
        response = self.client.get(f"/api/v1/conversations/{conversation_id}/messages", headers=self.headers)
        response.raise_for_status()
        return list(response.json()["items"])

    def reply(self, conversation_id: int, text: str, buttons: list[dict[str, str]] | None = None) -> None:
        response = self.client.post(f"/api/v1/conversations/{conversation_id}/messages", headers=self.headers,
                                    json={"text": text, "buttons": buttons or []})
        assert response.status_code == 202, response.text

    def send_file(self, conversation_id: int, name: str, data: bytes, mime_type: str, text: str = "") -> None:
        response = self.client.post(f"/api/v1/conversations/{conversation_id}/attachments", headers=self.headers,
                                    data={"text": text}, files={"file": (name, data, mime_type)})
        assert response.status_code == 202, response.text
