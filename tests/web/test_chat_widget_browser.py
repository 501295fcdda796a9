"""The embeddable widget on an agency's own site (a page served by the test, on another origin, under
a strict CSP), and the chat's notice when nobody is online and its rating at the end."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from axe_playwright_python.sync_playwright import Axe
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from civdesk.config import Settings
from civdesk.db.session import create_engine_for, create_sessionmaker
from civdesk.quality.models import Rating
from tests.support.live_server import LiveServer
from tests.support.stack import Stack
from tests.support.world import login, run_async
from tests.web.chat_page import Agent, Citizen

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]


def _site(civdesk_url: str) -> FastAPI:
    site = FastAPI()
    page = f"""<!doctype html>
<html lang="uk"><head><meta charset="utf-8"><title>Міністерство — головна</title>
<script src="{civdesk_url}/chat/minsoc/widget.js" defer></script></head>
<body><main><h1>Міністерство соціальної політики</h1><p><a href="#news">Новини</a></p></main></body></html>"""
    csp = f"default-src 'none'; script-src {civdesk_url}; frame-src {civdesk_url}; style-src 'self'"

    @site.get("/", response_class=HTMLResponse)
    async def home() -> HTMLResponse:
        return HTMLResponse(page, headers={"Content-Security-Policy": csp})

    return site


@pytest.fixture
def agency_site(stack: Stack) -> Iterator[str]:
    with LiveServer(_site(stack.server.url)) as server:
        yield server.url


def _axe(page: Page, when: str) -> None:
    results = Axe().run(page)
    assert results.violations_count == 0, f"{when}:\n{results.generate_report()}"


def test_one_script_tag_adds_a_keyboard_friendly_launcher_that_opens_the_chat(
    stack: Stack, browser: Browser, agency_site: str
) -> None:
    context = browser.new_context(
        locale="uk-UA", viewport={"width": 1000, "height": 760}, permissions=["local-network-access"]
    )
    problems: list[str] = []
    try:
        page = context.new_page()
        page.on("pageerror", lambda exc: problems.append(str(exc)))
        page.on("console", lambda m: "Content Security Policy" in m.text and problems.append(m.text))
        page.goto(agency_site)
        launcher = page.get_by_role("button", name="Онлайн-чат")
        expect(launcher).to_have_attribute("aria-expanded", "false")
        _axe(page, "the agency's page with the launcher")
        page.keyboard.press("Tab")  # the site's own link first
        page.keyboard.press("Tab")
        expect(launcher).to_be_focused()
        page.keyboard.press("Enter")
        expect(launcher).to_have_attribute("aria-expanded", "true")
        frame = page.frame_locator("iframe[title='Онлайн-чат із відомством']")
        expect(frame.locator("h1")).to_have_text("Міністерство соціальної політики")
        # Nobody is online: the chat still takes the question, and says when it will be answered.
        expect(frame.locator("#availability")).to_be_visible()
        expect(frame.locator("#availability")).to_contain_text("Зараз немає працівників на зв'язку")
        _axe(page, "the launcher with the chat open")

        page.keyboard.press("Tab")  # into the chat: its language switch, transcript, the name, the message
        page.keyboard.press("Tab")
        page.keyboard.press("Tab")
        page.keyboard.press("Tab")
        expect(frame.locator("#message")).to_be_focused()
        page.keyboard.type("Питання з сайту міністерства")
        page.keyboard.press("Enter")
        expect(frame.locator(".msg--own .msg__state")).to_have_text(["надіслано"])
        agent = Agent(stack)
        assert agent.conversation()["channel_type"] == "webchat"

        page.keyboard.press("Escape")  # pressed inside the chat, heard by the host page
        expect(page.get_by_role("region", name="Онлайн-чат із відомством")).to_be_hidden()
        expect(launcher).to_be_focused()
        expect(launcher).to_have_attribute("aria-expanded", "false")
        page.keyboard.press("Enter")
        page.get_by_role("button", name="✕ Закрити чат").click()
        expect(launcher).to_be_focused()
    finally:
        context.close()
    assert not problems, problems


def _ratings(settings: Settings) -> list[tuple[int, str | None, str]]:
    async def read() -> list[tuple[int, str | None, str]]:
        engine = create_engine_for(settings.database_url)
        try:
            async with create_sessionmaker(engine)() as session:
                return [(r.score, r.comment, r.channel) for r in await session.scalars(select(Rating))]
        finally:
            await engine.dispose()

    return run_async(read())


def test_the_chat_asks_for_a_rating_when_the_conversation_is_resolved(
    stack: Stack, settings: Settings, citizen_in: Callable[..., Citizen]
) -> None:
    citizen = citizen_in()
    page = citizen.open()
    expect(page.locator("#availability")).to_be_visible()
    headers = login(stack.client, stack.world.agent_email)
    stack.client.put("/api/v1/presence/me", headers=headers, json={"status": "online"})
    page.reload()
    expect(page.locator("#composer")).to_be_visible()
    expect(page.locator("#availability")).to_be_hidden()  # someone is online now
    citizen.send("Дякую, все зрозуміло")
    expect(citizen.states()).to_have_text(["надіслано"])
    agent = Agent(stack)
    conversation = agent.conversation()
    assert stack.client.post(f"/api/v1/conversations/{conversation['id']}/resolve", headers=headers).status_code == 200

    rating = page.locator("#rating")
    expect(rating).to_be_visible()  # live, through the socket
    expect(rating.locator("legend")).to_contain_text("Оцініть, будь ласка")
    _axe(page, "the rating prompt")
    page.get_by_role("button", name="Надіслати оцінку").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#rating-error")).to_have_text("Оберіть оцінку від 1 до 5.")
    expect(page.get_by_role("radio", name="1 — погано")).to_be_focused()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    expect(page.get_by_role("radio", name="4")).to_be_checked()
    page.keyboard.press("Tab")
    page.keyboard.type("Швидко й зрозуміло")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(rating).to_be_hidden()
    expect(page.locator("#status")).to_have_text("Дякуємо за оцінку! Вона допомагає відомству працювати краще.")
    expect(page.locator("#message")).to_be_focused()
    assert _ratings(settings) == [(4, "Швидко й зрозуміло", "webchat")]
    _axe(page, "after rating")
    page.reload()
    expect(page.locator("#composer")).to_be_visible()
    expect(rating).to_be_hidden()  # asked once
