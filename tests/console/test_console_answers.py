"""The console's answering tools in a real browser: canned answers behind "/", emoji, resolving with
an outcome, and the citizen's earlier conversations beside the open one — by keyboard, and axe-clean."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from civdesk.config import Settings
from tests.console.console_page import Console
from tests.knowledge.support import add_agent
from tests.support.stack import Stack
from tests.support.world import BOT_TOKEN, login

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]


def _clean(page: Page, when: str) -> None:
    results = Axe().run(page)
    assert results.violations_count == 0, f"{when}:\n{results.generate_report()}"


def _prepare(stack: Stack, settings: Settings) -> None:
    admin = login(stack.client, add_agent(settings, slug="minsoc", email="admin@minsoc.test", role="admin"))
    for title, body, reference in (
        ("Привітання", "Добрий день! Чим можемо допомогти?", None),
        ("Строк розгляду", "Звернення розглядається до 30 днів.", "ст. 20 Закону № 393/96-ВР"),
        ("Субсидія онлайн", "Заяву на субсидію можна подати в «Дії».", None),
    ):
        payload = {"title": title, "body": body, "legal_reference": reference}
        assert stack.client.post("/api/v1/canned-answers", headers=admin, json=payload).status_code == 201
    for position, title in enumerate(("Роз'яснено", "Передано в ЦНАП", "Не наше питання")):
        payload = {"title": title, "position": position}
        assert stack.client.post("/api/v1/resolution-codes", headers=admin, json=payload).status_code == 201


def test_canned_answers_emoji_and_resolving_with_an_outcome_by_keyboard(
    stack: Stack, settings: Settings, console: Callable[..., Console]
) -> None:
    _prepare(stack, settings)
    stack.emulator.citizen_says(token=BOT_TOKEN, chat_id=951, text="Скільки чекати на відповідь?", first_name="Ліна")
    tab = console()
    page = tab.login(stack.world.agent_email)
    tab.view("all").click()
    tab.item("Ліна").click()
    expect(tab.messages("in")).to_have_count(1)

    text = page.locator("#text")
    text.focus()
    page.keyboard.type("/стр")
    listbox = page.get_by_role("listbox", name="Готові відповіді")
    expect(listbox).to_be_visible()
    expect(listbox.get_by_role("option")).to_have_count(1)
    expect(page.locator("#canned-status")).to_contain_text("Готових відповідей: 1.")
    expect(text).to_be_focused()  # the field keeps focus; the option is its active descendant
    expect(text).to_have_attribute("aria-activedescendant", listbox.get_by_role("option").get_attribute("id") or "")
    _clean(page, "canned answers open")
    page.keyboard.press("Backspace")
    page.keyboard.press("Backspace")
    page.keyboard.press("Backspace")
    expect(listbox.get_by_role("option")).to_have_count(3)
    page.keyboard.press("ArrowDown")
    expect(listbox.get_by_role("option").nth(1)).to_have_attribute("aria-selected", "true")
    page.keyboard.press("Escape")
    expect(listbox).to_be_hidden()
    expect(text).to_be_focused()  # Esc closes the list, not the field
    page.keyboard.type("строк")
    expect(listbox.get_by_role("option")).to_have_count(1)
    page.keyboard.press("Enter")
    expect(text).to_have_value("Звернення розглядається до 30 днів.")
    expect(listbox).to_be_hidden()

    page.keyboard.type(" ")
    page.locator("#emoji-open").click()
    expect(page.locator("#emoji-open")).to_have_attribute("aria-expanded", "true")
    grid = page.get_by_role("group", name="Емодзі")
    expect(grid.get_by_role("button", name="усмішка", exact=True)).to_be_focused()
    _clean(page, "emoji open")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    expect(grid.get_by_role("button", name="палець угору")).to_be_focused()
    page.keyboard.press("Enter")
    expect(grid).to_be_hidden()
    expect(text).to_be_focused()
    expect(text).to_have_value("Звернення розглядається до 30 днів. 👍")
    page.keyboard.press("Enter")
    stack.emulator.wait_for_sends(token=BOT_TOKEN, chat_id=951)
    assert stack.emulator.sent(token=BOT_TOKEN, chat_id=951)[0]["text"] == "Звернення розглядається до 30 днів. 👍"

    page.keyboard.press("Escape")
    page.keyboard.press("e")
    dialog = page.get_by_role("dialog", name="Завершити розмову")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("radio", name="Роз'яснено")).to_be_focused()
    _clean(page, "resolve dialog")
    page.keyboard.press("j")  # shortcuts sleep while a dialog is open
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Завершити").click()
    expect(dialog.get_by_role("alert")).to_have_text("Оберіть результат звернення.")
    dialog.get_by_role("radio", name="Роз'яснено").focus()
    page.keyboard.press("ArrowDown")
    expect(dialog.get_by_role("radio", name="Передано в ЦНАП")).to_be_checked()
    page.keyboard.press("Tab")
    expect(dialog.get_by_role("button", name="Скасувати")).to_be_focused()
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(dialog).to_be_hidden()
    expect(page.locator("#conv-meta")).to_contain_text("завершена")
    expect(page.locator("#conv-meta")).to_contain_text("Передано в ЦНАП")
    headers = login(stack.client, stack.world.agent_email)
    conversation = stack.client.get("/api/v1/conversations", headers=headers).json()["items"][0]
    assert conversation["resolution_code"] == "Передано в ЦНАП"

    page.get_by_role("button", name="English").first.click()
    expect(page.locator("#canned-open")).to_have_text("Canned answers")
    text.focus()
    page.keyboard.type("/")
    expect(page.get_by_role("listbox", name="Canned answers")).to_be_visible()
    _clean(page, "canned answers in English")


def test_the_citizens_earlier_conversations_on_other_channels(
    stack: Stack, settings: Settings, console: Callable[..., Console]
) -> None:
    agent = login(stack.client, stack.world.agent_email)
    stack.emulator.citizen_says(token=BOT_TOKEN, chat_id=961, text="Питання з Telegram", first_name="Роман")
    token = stack.client.post("/chat/minsoc/session").json()["token"]
    sent = stack.client.post(
        "/chat/minsoc/messages",
        headers={"authorization": f"Bearer {token}"},
        json={"client_msg_id": str(uuid.uuid4()), "text": "А тепер із сайту", "name": "Роман С."},
    )
    assert sent.status_code == 202
    tab = console()
    page = tab.login(stack.world.agent_email)
    tab.view("all").click()
    expect(tab.items()).to_have_count(2)
    items = {c["contact_name"]: c for c in stack.client.get("/api/v1/conversations", headers=agent).json()["items"]}
    resolved = stack.client.post(f"/api/v1/conversations/{items['Роман']['id']}/resolve", headers=agent)
    assert resolved.status_code == 200
    linked = stack.client.post(
        f"/api/v1/contacts/{items['Роман С.']['contact_id']}/links",
        headers=agent,
        json={"contact_id": items["Роман"]["contact_id"]},
    )
    assert linked.status_code == 200

    tab.item("Роман С.").click()
    summary = page.locator("#history-summary")
    summary.focus()
    page.keyboard.press("Enter")
    expect(summary).to_have_text("Попередні звернення громадянина: 1")
    past = page.locator("#history-list").get_by_role("button")
    expect(past).to_have_count(1)
    expect(past).to_contain_text("Telegram")
    expect(past).to_contain_text("завершена")
    _clean(page, "history open")
    past.focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name=f"Розмова № {items['Роман']['id']}")
    expect(dialog).to_be_visible()
    expect(dialog.locator(".msg__text")).to_have_text("Питання з Telegram")
    _clean(page, "past conversation")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(past).to_be_focused()
