"""The citizen web chat in English: by ?lang=en, by the browser's language, by the switch on the page
(keyboard only, remembered for the next visit), and from the widget's data-lang="en" — every string in
English, <html lang="en">, axe-clean, under the strict CSP of chat_page.py."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from axe_playwright_python.sync_playwright import Axe
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from playwright.sync_api import Browser, Page, expect

from tests.support.live_server import LiveServer
from tests.support.stack import Stack
from tests.support.world import login
from tests.web.chat_page import Agent, Citizen

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]

AGENCY = "Міністерство соціальної політики"
CYRILLIC = re.compile(r"[\u0400-\u04FF]")


def _axe(page: Page, when: str) -> None:
    results = Axe().run(page)
    assert results.violations_count == 0, f"{when}:\n{results.generate_report()}"


def _no_ukrainian_outside_the_agency(page: Page) -> None:
    """Every visible and screen-reader string is English; only the agency's own name stays Ukrainian."""
    text = page.evaluate(
        "(() => { const c = document.getElementById('chat').cloneNode(true);"
        " c.querySelectorAll('.chat__title, .msg__who, .msg__text, .chat__lang').forEach((n) => n.remove());"
        " const labels = [...c.querySelectorAll('[aria-label]')].map((n) => n.getAttribute('aria-label'));"
        " return c.textContent + ' ' + labels.join(' ') + ' ' + document.title.replace(document.querySelector("
        "'.chat__title').textContent, ''); })()"
    )
    assert not CYRILLIC.search(str(text)), text


def test_english_by_query_by_the_keyboard_switch_and_remembered(
    stack: Stack, citizen_in: Callable[..., Citizen]
) -> None:
    citizen = citizen_in(viewport={"width": 1000, "height": 720})  # a Ukrainian browser (uk-UA)
    page = citizen.open()
    expect(page.locator("html")).to_have_attribute("lang", "uk")
    page.keyboard.press("Tab")
    switch = page.get_by_role("link", name="English")
    expect(switch).to_be_focused()
    expect(switch).to_have_attribute("lang", "en")
    page.keyboard.press("Enter")  # the keyboard alone switches the language

    expect(page).to_have_url(re.compile(r"/chat/minsoc\?lang=en$"))
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page).to_have_title(f"Online chat — {AGENCY}")
    expect(page.get_by_role("heading", level=1)).to_have_text(AGENCY)
    expect(page.get_by_text("Only the agency's staff can see your request.")).to_be_visible()
    expect(page.locator("#hours")).to_have_text("We work around the clock.")
    expect(page.locator("#availability")).to_contain_text("No officers are available right now.")
    expect(page.get_by_role("log", name="Conversation")).to_contain_text("No messages yet.")
    expect(page.get_by_role("link", name="Українська")).to_have_attribute("lang", "uk")
    _no_ukrainian_outside_the_agency(page)
    _axe(page, "the English chat before writing")

    # Remembered: a later visit without ?lang= comes back in English.
    assert page.evaluate("localStorage.getItem('civdesk.chat.lang')") == "en"
    page.goto(citizen.url)
    expect(page).to_have_url(re.compile(r"\?lang=en$"))
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#composer")).to_be_visible()

    page.get_by_label("Message").focus()
    page.keyboard.press("Enter")  # nothing written: explained in English
    expect(page.locator("#message-error")).to_have_text("Write a message or attach a file.")
    page.get_by_label("Your name (optional)").fill("Mariia")
    page.get_by_label("Message").fill("How do I apply for a housing subsidy?")
    page.get_by_label("Message").press("Enter")
    expect(citizen.states()).to_have_text(["sent"])
    expect(page.locator(".msg--own .msg__who")).to_have_text("You")

    agent = Agent(stack)
    conversation = agent.conversation()
    assert agent.texts(conversation["id"]) == ["How do I apply for a housing subsidy?"]
    agent.reply(conversation["id"], "Hello! Apply through Diia.", buttons=[{"title": "Thanks", "payload": "ok"}])
    expect(citizen.replies()).to_have_text(["Hello! Apply through Diia."])
    expect(page.get_by_role("group", name="Reply options")).to_be_visible()

    # The connection drops and comes back: the status line speaks English.
    page.evaluate("window.civdeskChat.socket.close()")
    expect(page.locator("#status")).to_have_text(re.compile(r"^(Reconnecting…|Connection restored\.)$"))
    expect(page.locator("#status")).to_have_text("Connection restored.")
    _no_ukrainian_outside_the_agency(page)
    _axe(page, "the English chat with a reply")

    # And back to Ukrainian, by keyboard too.
    page.get_by_role("link", name="Українська").focus()
    page.keyboard.press("Enter")
    expect(page.locator("html")).to_have_attribute("lang", "uk")
    expect(citizen.replies()).to_have_text(["Hello! Apply through Diia."])
    expect(page.locator(".msg--own .msg__who")).to_have_text("Ви")
    assert page.evaluate("localStorage.getItem('civdesk.chat.lang')") == "uk"


def test_an_english_browser_gets_english_with_the_queue_and_the_rating_in_english(
    stack: Stack, citizen_in: Callable[..., Citizen]
) -> None:
    agent_headers = login(stack.client, stack.world.agent_email)
    assert stack.client.put("/api/v1/presence/me", headers=agent_headers, json={"status": "online"}).is_success

    citizen = citizen_in(locale="en-GB")  # Accept-Language: en-GB
    page = citizen.open()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("link", name="Українська")).to_be_visible()
    citizen.send("Where is my letter?")
    expect(citizen.states()).to_have_text(["sent"])
    queue = page.locator("#queue")
    expect(queue).to_have_text(re.compile(r"^You are number 1 in the queue\. "))

    conversation = Agent(stack).conversation()
    resolved = stack.client.post(f"/api/v1/conversations/{conversation['id']}/resolve", headers=agent_headers)
    assert resolved.status_code == 200, resolved.text
    rating = page.locator("#rating")
    expect(rating).to_be_visible()
    expect(rating.locator("legend")).to_contain_text("Please rate how well you were helped")
    expect(page.locator("#hours")).to_have_text("We work around the clock.")  # the socket's state is English too
    page.get_by_role("button", name="Send rating").click()
    expect(page.locator("#rating-error")).to_have_text("Choose a rating from 1 to 5.")
    page.get_by_role("radio", name="5 — excellent").check()
    page.get_by_role("button", name="Send rating").click()
    expect(page.locator("#status")).to_have_text("Thank you for your rating! It helps the agency work better.")
    expect(page.locator("#hours")).to_have_text("We work around the clock.")
    _no_ukrainian_outside_the_agency(page)
    _axe(page, "the English chat after rating")

    page.goto(citizen.url + "?lang=uk")  # an explicit ?lang= beats the browser's language
    expect(page.locator("html")).to_have_attribute("lang", "uk")
    expect(page.locator("#hours")).to_have_text("Працюємо цілодобово.")


def _site(civdesk_url: str) -> FastAPI:
    site = FastAPI()
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Ministry — home</title>
<script src="{civdesk_url}/chat/minsoc/widget.js" data-lang="en" defer></script></head>
<body><main><h1>Ministry of Social Policy</h1><p><a href="#news">News</a></p></main></body></html>"""
    csp = f"default-src 'none'; script-src {civdesk_url}; frame-src {civdesk_url}; style-src 'self'"

    @site.get("/", response_class=HTMLResponse)
    async def home() -> HTMLResponse:
        return HTMLResponse(page, headers={"Content-Security-Policy": csp})

    return site


@pytest.fixture
def english_site(stack: Stack) -> Iterator[str]:
    with LiveServer(_site(stack.server.url)) as server:
        yield server.url


def test_the_widget_with_data_lang_en_opens_an_english_chat(
    stack: Stack, browser: Browser, english_site: str
) -> None:
    # A Ukrainian browser: data-lang="en" on the agency's tag still opens the chat in English.
    context = browser.new_context(locale="uk-UA", permissions=["local-network-access"])
    problems: list[str] = []
    try:
        page = context.new_page()
        page.on("pageerror", lambda exc: problems.append(str(exc)))
        page.on("console", lambda m: "Content Security Policy" in m.text and problems.append(m.text))
        page.goto(english_site)
        page.get_by_role("button", name="Online chat").click()
        frame = page.frame_locator("iframe[title='Online chat with the agency']")
        expect(frame.locator("html")).to_have_attribute("lang", "en")
        expect(frame.locator("h1")).to_have_text(AGENCY)
        expect(frame.locator("#availability")).to_contain_text("No officers are available right now.")
        frame.get_by_label("Message").fill("A question from the ministry's site")
        frame.get_by_label("Message").press("Enter")
        expect(frame.locator(".msg--own .msg__state")).to_have_text(["sent"])
        _axe(page, "the agency's page with the English chat open")
    finally:
        context.close()
    assert not problems, problems
