"""The citizen web chat in real headless Chromium against the real stack (uvicorn, database, agent API).

Every page is served with a strict Content-Security-Policy added in the test (no inline scripts or
styles allowed), and any CSP violation or uncaught page error fails the test (see chat_page.py).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Route, expect

from tests.support.stack import Stack
from tests.web.chat_page import Agent, Citizen, until

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]

AGENCY = "Міністерство соціальної політики"
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "citizen-chat.png"
def test_keyboard_only_citizen_gets_a_live_reply_that_survives_a_reload(
    stack: Stack, citizen_in: Callable[..., Citizen]
) -> None:
    citizen = citizen_in(viewport={"width": 1000, "height": 720})
    page = citizen.open()
    assert page.evaluate("localStorage.length") == 0  # no session until the citizen writes
    expect(page.locator("html")).to_have_attribute("lang", "uk")
    expect(page.get_by_role("heading", level=1)).to_have_text(AGENCY)
    expect(page.get_by_text("Ваше звернення бачать лише працівники відомства")).to_be_visible()
    expect(page.locator("#hours")).to_have_text("Працюємо цілодобово.")

    page.keyboard.press("Tab")
    assert citizen.focused() == "lang-switch"  # "English", first: whoever needs it needs it at once
    page.keyboard.press("Tab")
    assert citizen.focused() == "log"  # the transcript scrolls, so it takes focus
    page.keyboard.press("Tab")
    assert citizen.focused() == "name"
    page.keyboard.type("Марія")
    page.keyboard.press("Tab")
    assert citizen.focused() == "message"
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"
    page.keyboard.press("Enter")  # nothing written yet: explained, nothing sent
    expect(page.locator("#message-error")).to_have_text("Напишіть повідомлення або прикріпіть файл.")
    expect(page.get_by_label("Повідомлення")).to_have_attribute("aria-invalid", "true")
    page.keyboard.type("Як оформити субсидію?")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("Я з Полтави.")
    page.keyboard.press("Enter")

    expect(citizen.states()).to_have_text(["надіслано"])
    assert citizen.own().all_text_contents() == ["Як оформити субсидію?\nЯ з Полтави."]
    expect(page.locator("#message-error")).to_be_hidden()
    expect(page.locator("#name")).to_be_hidden()  # the agency keeps the name given with the first message
    assert citizen.focused() == "message" and page.locator("#message").input_value() == ""
    assert len(citizen.sent_ids) == 1

    agent = Agent(stack)
    conversation = agent.conversation()
    assert conversation["contact_name"] == "Марія"
    assert agent.texts(conversation["id"]) == ["Як оформити субсидію?\nЯ з Полтави."]
    agent.reply(conversation["id"], "Добрий день! Подайте заяву через Дію.")
    expect(citizen.replies()).to_have_text(["Добрий день! Подайте заяву через Дію."], timeout=2000)
    expect(page.locator(".msg--agency .msg__who")).to_have_text(AGENCY)
    expect(page.locator(".msg--own .msg__who")).to_have_text("Ви")
    expect(page.locator(".msg time")).to_have_count(2)
    assert citizen.focused() == "message"  # a new message is announced, focus stays put
    log = page.get_by_role("log")
    expect(log).to_have_attribute("aria-live", "polite")
    assert page.evaluate("(() => { const l = document.getElementById('log');"
                         " return l.scrollHeight - l.scrollTop - l.clientHeight < 2; })()")

    page.reload()
    expect(citizen.replies()).to_have_text(["Добрий день! Подайте заяву через Дію."])
    assert citizen.own().all_text_contents() == ["Як оформити субсидію?\nЯ з Полтави."]
    expect(page.locator(".msg")).to_have_count(2)
    agent.reply(conversation["id"], "Якщо будуть питання — пишіть сюди.")  # live again after the reload
    expect(citizen.replies()).to_have_count(2, timeout=2000)
    page.locator("#message").fill("Дякую, спробую сьогодні.")
    page.mouse.move(0, 0)
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), animations="disabled")


def test_dropped_socket_and_offline_spell_lose_nothing_and_double_nothing(
    stack: Stack, citizen_in: Callable[..., Citizen]
) -> None:
    citizen = citizen_in()
    page = citizen.open()
    agent = Agent(stack)
    citizen.send("Чи отримали ви мої документи?")
    conversation = agent.conversation()
    agent.reply(conversation["id"], "Так, отримали.")
    expect(citizen.replies()).to_have_text(["Так, отримали."])

    # The socket is closed under the page's feet; a reply comes while it reconnects.
    page.evaluate("window.civdeskChat.socket.close()")
    agent.reply(conversation["id"], "Розглянемо за п'ять днів.")
    expect(citizen.replies()).to_have_text(["Так, отримали.", "Розглянемо за п'ять днів."], timeout=5000)

    # The network goes away: replies pile up on the server, the citizen's message waits to be sent.
    page.context.set_offline(True)
    expect(page.get_by_role("status")).to_contain_text("Немає підключення до мережі")
    agent.reply(conversation["id"], "Рішення вже готове.")
    agent.reply(conversation["id"], "Його надіслано поштою.")
    citizen.send("Дякую!")
    expect(citizen.states().last).to_contain_text("не надіслано")
    expect(page.get_by_role("button", name="Повторити зараз")).to_be_visible()
    page.context.set_offline(False)

    everything = ["Так, отримали.", "Розглянемо за п'ять днів.", "Рішення вже готове.", "Його надіслано поштою."]
    expect(citizen.replies()).to_have_text(everything, timeout=5000)
    expect(citizen.states()).to_have_text(["надіслано", "надіслано"], timeout=5000)
    expect(page.get_by_role("status")).to_have_text("З'єднання відновлено.")
    expect(citizen.own()).to_have_text(["Чи отримали ви мої документи?", "Дякую!"])
    assert agent.texts(conversation["id"]) == ["Чи отримали ви мої документи?", "Дякую!"]
    assert agent.texts(conversation["id"], "out") == everything
    assert len(set(citizen.sent_ids)) == 2  # the offline message kept its id through every retry
    page.evaluate("window.civdeskChat.socket.close()")  # a replay after the last id renders nothing twice
    until(page, lambda: page.evaluate("window.civdeskChat.socket?.readyState === WebSocket.OPEN"), "reconnect")
    agent.reply(conversation["id"], "Гарного дня!")
    expect(citizen.replies()).to_have_count(5, timeout=5000)
    expect(page.locator(".msg")).to_have_count(7)


def test_failed_send_is_retried_with_the_same_client_msg_id(
    stack: Stack, citizen_in: Callable[..., Citizen]
) -> None:
    citizen = citizen_in()
    page = citizen.open()
    trouble = {"refuse": 0, "lose_answer": 0}
    answers: list[dict[str, Any]] = []

    def flaky(route: Route) -> None:
        if route.request.method != "POST":
            route.continue_()
        elif trouble["refuse"]:  # never reaches the server
            trouble["refuse"] -= 1
            route.abort("connectionreset")
        elif trouble["lose_answer"]:  # stored by the server, but the answer is lost on the way back
            trouble["lose_answer"] -= 1
            route.fetch()
            route.abort("connectionreset")
        else:
            response = route.fetch()
            answers.append(response.json())
            route.fulfill(response=response)

    page.route("**/chat/minsoc/messages", flaky)
    trouble["refuse"] = 1
    citizen.send("Перше питання")
    expect(citizen.states()).to_have_text(["не надіслано, повторюємо спробу… Повторити зараз"])
    expect(citizen.states()).to_have_text(["надіслано"], timeout=5000)

    trouble["lose_answer"] = 1
    citizen.send("Друге питання")
    expect(citizen.states()).to_have_text(["надіслано", "надіслано"], timeout=5000)
    until(page, lambda: page.evaluate("window.civdeskChat.pending") == 0, "the outbox to empty")

    first, first_retry, second, second_retry = citizen.sent_ids
    assert first == first_retry and second == second_retry and first != second
    assert answers == [{"ok": True, "duplicate": False}, {"ok": True, "duplicate": True}]
    agent = Agent(stack)
    assert agent.texts(agent.conversation()["id"]) == ["Перше питання", "Друге питання"]
    expect(citizen.own()).to_have_text(["Перше питання", "Друге питання"])


def test_axe_finds_nothing_and_320px_needs_no_horizontal_scroll(
    stack: Stack, citizen_in: Callable[..., Citizen]
) -> None:
    citizen = citizen_in(viewport={"width": 320, "height": 640}, reduced_motion="reduce")
    page = citizen.open()
    axe = Axe()

    def no_violations(when: str) -> None:
        results = axe.run(page)
        assert results.violations_count == 0, f"{when}:\n{results.generate_report()}"
        assert citizen.scroll_width() <= 320, f"{when}: horizontal scroll"

    no_violations("empty chat")
    citizen.send("Дуже-довге-слово-без-пробілів-" * 12 + " https://example.gov.ua/" + "x" * 120)
    agent = Agent(stack)
    conversation = agent.conversation()
    agent.reply(conversation["id"], "Відповідь відомства з довгим посиланням: https://minsoc.gov.ua/" + "a" * 150)
    expect(citizen.replies()).to_have_count(1)
    expect(citizen.states()).to_have_text(["надіслано"])
    page.locator("#message").press("Enter")  # show the error state too
    expect(page.locator("#message-error")).to_be_visible()
    no_violations("conversation, light")
    send = page.get_by_role("button", name="Надіслати").bounding_box()
    assert send is not None and send["x"] >= 0 and send["x"] + send["width"] <= 320

    page.emulate_media(color_scheme="dark")
    no_violations("conversation, dark")
    assert page.evaluate("getComputedStyle(document.querySelector('.msg')).animationName") == "none"
    page.emulate_media(reduced_motion="no-preference")
    assert page.evaluate("getComputedStyle(document.querySelector('.msg')).animationName") == "msg-in"


def test_without_javascript_the_form_stays_hidden_and_noscript_explains(
    stack: Stack, citizen_in: Callable[..., Citizen]
) -> None:
    citizen = citizen_in(java_script_enabled=False)
    page = citizen.page
    page.goto(citizen.url)
    expect(page.get_by_role("heading", level=1)).to_have_text(AGENCY)
    expect(page.locator("#composer")).to_be_hidden()  # no dead form without the script behind it
    # Chromium's script switch does not make the parser render <noscript>, so read its text instead.
    assert "Для роботи чату потрібен JavaScript" in (page.locator("noscript").text_content() or "")
