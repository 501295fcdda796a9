"""The console never shows a stale list: a dropped socket resumes from the last event id, and a
cursor the server cannot replay from makes the console reload its lists."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import expect

from tests.console.console_page import Console, until
from tests.support.stack import Stack
from tests.support.world import BOT_TOKEN, login

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]


def test_a_dropped_socket_recovers_with_no_message_lost(stack: Stack, console: Callable[..., Console]) -> None:
    tab = console()
    page = tab.login(stack.world.agent_email)
    tab.view("all").click()
    stack.emulator.citizen_says(token=BOT_TOKEN, chat_id=801, text="Перше питання", first_name="Галина")
    tab.item("Галина").click()
    expect(tab.messages("in")).to_have_count(1)
    page.evaluate("window.__sameDocument = true")  # survives only if the page never reloads

    tab.cut_socket()
    expect(page.locator("#connection")).to_have_text("Зв’язок із сервером втрачено. Відновлюємо…")
    # While the console is cut off: the open conversation gets a message and a colleague's note,
    # a new citizen writes, and a colleague takes the first conversation.
    stack.emulator.citizen_says(token=BOT_TOKEN, chat_id=801, text="Друге питання")
    stack.emulator.citizen_says(token=BOT_TOKEN, chat_id=802, text="Я новенький", first_name="Богдан")
    stack.emulator.wait_until_delivered()
    taras = login(stack.client, stack.world.second_agent_email)
    conversation_id = int(page.url.rsplit("/", 1)[1])
    base = f"/api/v1/conversations/{conversation_id}"
    stack.client.post(f"{base}/notes", headers=taras, json={"text": "Беру на себе"}).raise_for_status()
    stack.client.post(f"{base}/assign", headers=taras).raise_for_status()
    page.wait_for_timeout(300)
    expect(tab.item("Богдан")).to_have_count(0)  # really cut off

    tab.restore_socket()
    expect(page.locator("#connection")).to_have_text("Зв’язок відновлено, пропущене завантажено.", timeout=15000)
    assert "last_event_id=" in tab.socket_urls[-1]
    expect(tab.messages("in").locator(".msg__text")).to_have_text(["Перше питання", "Друге питання"])
    expect(tab.messages("note")).to_contain_text("Беру на себе")
    expect(page.locator("#conv-meta")).to_contain_text("виконавець: Тарас")
    expect(tab.item("Богдан")).to_contain_text("непрочитаних: 1")
    assert page.evaluate("window.__sameDocument") is True

    # And live again after the replay, with no duplicates.
    stack.emulator.citizen_says(token=BOT_TOKEN, chat_id=801, text="Третє питання")
    expect(tab.messages("in")).to_have_count(3, timeout=1000)
    expect(tab.messages()).to_have_count(4)


def test_unread_counts_survive_a_reload_and_a_cursor_it_cannot_replay_reloads_the_lists(
    stack: Stack, console: Callable[..., Console]
) -> None:
    tab = console()
    page = tab.login(stack.world.agent_email)
    tab.view("all").click()
    stack.emulator.citizen_says(token=BOT_TOKEN, chat_id=811, text="Питання", first_name="Ліна")
    expect(tab.item("Ліна")).to_contain_text("непрочитаних: 1")

    page.reload()
    expect(tab.item("Ліна")).to_contain_text("непрочитаних: 1")
    expect(page.locator("#presence")).to_have_value("online")  # a reload keeps the chosen status
    # Another citizen writes while the tab is away: the saved cursor replays it, counted as unread.
    page.goto("about:blank")
    stack.emulator.citizen_says(token=BOT_TOKEN, chat_id=812, text="Доброго ранку", first_name="Марко")
    stack.emulator.wait_until_delivered()
    tab.open()
    expect(tab.item("Марко")).to_contain_text("непрочитаних: 1")
    expect(tab.view("all").locator(".badge")).to_contain_text("2")

    # A cursor ahead of the server's log (say, a restored database): the server says "reset".
    agent_id = page.evaluate("Object.keys(localStorage).find(k => k.startsWith('civdesk.console.'))")
    page.goto(f"{stack.server.url}/healthz")  # away from the console, which saves its own cursor on leaving
    page.evaluate(f"localStorage.setItem('{agent_id}', JSON.stringify({{cursor: 999999, unread: {{}}}}))")
    sockets = len(tab.socket_urls)
    tab.open()
    expect(tab.items()).to_have_count(2)
    assert len(tab.socket_urls) == sockets + 1 and tab.socket_urls[-1].endswith("last_event_id=999999")
    expect(tab.items()).to_have_count(2)
    stack.emulator.citizen_says(token=BOT_TOKEN, chat_id=811, text="Ще одне")
    expect(tab.item("Ліна")).to_contain_text("непрочитаних: 1", timeout=1000)
    saved = f"JSON.parse(localStorage.getItem('{agent_id}')).cursor"
    until(page, lambda: page.evaluate(saved) < 999999, "the new cursor to be saved")
