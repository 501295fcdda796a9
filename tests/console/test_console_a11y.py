"""Accessibility of the console (WCAG 2.1 AA, DSTU EN 301 549): axe-core finds nothing on its main
views, everything works by keyboard alone, focus is visible, 320 px is usable, and English is one click away."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from civdesk.config import Settings
from tests.console.console_page import Console
from tests.knowledge.support import add_agent
from tests.support.stack import Stack
from tests.support.world import BOT_TOKEN, PASSWORD, login

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def _clean(page: Page, tab: Console, when: str, width: int) -> None:
    results = Axe().run(page)
    assert results.violations_count == 0, f"{when}:\n{results.generate_report()}"
    assert tab.scroll_width() <= width, f"{when}: horizontal scroll at {width} px"


def _focus_ring(page: Page) -> str:
    return str(page.evaluate("getComputedStyle(document.activeElement).outlineStyle"))


@pytest.mark.parametrize("width", [1280, 320])
def test_axe_finds_nothing_on_the_login_the_inbox_and_the_conversation(
    stack: Stack, console: Callable[..., Console], width: int
) -> None:
    tab = console(viewport={"width": width, "height": 760})
    page = tab.open()
    expect(page.locator("html")).to_have_attribute("lang", "uk")
    expect(page.get_by_role("heading", name="Вхід до консолі")).to_be_visible()
    _clean(page, tab, "login", width)
    page.get_by_role("button", name="Увійти").click()
    expect(page.get_by_role("alert")).to_have_text("Введіть електронну пошту й пароль.")
    _clean(page, tab, "login with an error", width)

    stack.emulator.citizen_says(token=BOT_TOKEN, chat_id=901, text="Добрий день! " + "Дуже-довге-слово-" * 12,
                                first_name="Віра")
    stack.emulator.citizen_says(token=BOT_TOKEN, chat_id=902, text="Питання про пенсію", first_name="Назар")
    tab.login(stack.world.agent_email)
    tab.view("all").click()
    expect(tab.items()).to_have_count(2)
    _clean(page, tab, "inbox", width)

    tab.item("Віра").click()
    expect(tab.messages("in")).to_have_count(1)
    if width == 320:
        expect(page.locator("#list")).to_be_hidden()  # one pane at a time
    page.get_by_label("Відповідь", exact=True).fill("Відповідь із довгим посиланням https://minsoc.gov.ua/" + "a" * 90)
    page.get_by_label("Відповідь", exact=True).press("Enter")
    expect(tab.messages("out").locator(".delivery")).to_have_attribute("data-status", "delivered")
    page.get_by_text("Нотатка для колег").click()
    page.get_by_label("Внутрішня нотатка (громадянин її не бачить)").press("Enter")
    expect(page.locator("#composer-error")).to_have_text("Напишіть текст або прикріпіть файл.")
    page.get_by_label("Внутрішня нотатка (громадянин її не бачить)").fill("Внутрішня примітка")
    page.get_by_label("Внутрішня нотатка (громадянин її не бачить)").press("Enter")
    expect(tab.messages("note")).to_have_count(1)
    _clean(page, tab, "conversation", width)
    send = page.locator("#send").bounding_box()
    assert send is not None and send["x"] >= 0 and send["x"] + send["width"] <= width

    page.locator("#log").focus()
    page.keyboard.press("?")
    expect(page.get_by_role("dialog", name="Клавіатурні скорочення")).to_be_visible()
    _clean(page, tab, "shortcuts dialog", width)
    page.keyboard.press("Escape")

    page.get_by_role("button", name="English").first.click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("button", name="Resolve")).to_be_visible()
    _clean(page, tab, "conversation in English", width)
    if width == 320:
        page.get_by_role("button", name="Back to the list").click()
        expect(tab.items()).to_have_count(2)
        _clean(page, tab, "inbox at 320 px", width)
        page.screenshot(path="/tmp/console-320.png")


@pytest.mark.parametrize("width", [1280, 320])
def test_axe_finds_nothing_in_the_admin_settings(
    stack: Stack, settings: Settings, console: Callable[..., Console], width: int
) -> None:
    admin = login(stack.client, add_agent(settings, slug="minsoc", email="admin@minsoc.test", role="admin"))
    week = {"mon": [["08:00", "17:00"]], "sat": [["22:00", "06:00"], ["10:00", "12:00"]]}
    changed = stack.client.patch("/api/v1/routing/settings", headers=admin,
                                 json={"languages": ["uk", "en"], "working_hours": week})
    assert changed.status_code == 200, changed.text
    holiday = {"day": "2031-08-24", "name": "День Незалежності"}
    assert stack.client.post("/api/v1/routing/holidays", headers=admin, json=holiday).status_code == 201
    tab = console(viewport={"width": width, "height": 760})
    page = tab.login("admin@minsoc.test")
    page.locator("#settings-open").click()
    expect(page.locator("#settings-body")).to_be_visible()
    expect(page.locator("#settings-skills-topics select")).to_have_count(1)
    expect(page.locator("#hours-sat-0-night")).to_have_text("до наступного дня")
    _clean(page, tab, "settings", width)

    agency = page.locator("#settings-agency")
    agency.get_by_label("Передати іншому, якщо немає відповіді (секунд)").fill("5")
    agency.get_by_role("button", name="Зберегти налаштування").click()
    expect(page.locator("#settings-reassign_after_seconds-error")).to_be_visible()
    page.get_by_role("button", name="Нова тема").click()
    page.get_by_role("button", name="Зберегти тему").click()  # no identifier, no name: refused by the server
    expect(page.locator("#settings-topic-name-error")).to_be_visible()
    _clean(page, tab, "settings with the server's refusals", width)

    page.get_by_role("button", name="English").first.click()
    expect(page.get_by_role("region", name="Routing settings")).to_be_visible()
    _clean(page, tab, "settings in English", width)
    page.keyboard.press("Escape")
    expect(page.locator("#settings")).to_be_hidden()
    expect(page.locator("#settings-open")).to_be_focused()


def test_keyboard_alone_runs_the_whole_flow(stack: Stack, console: Callable[..., Console]) -> None:
    tab = console()
    page = tab.open()
    expect(page.locator("#email")).to_be_focused()
    page.keyboard.type(stack.world.agent_email)
    page.keyboard.press("Tab")
    assert tab.focused() == "password" and _focus_ring(page) != "none"
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.locator("#inbox-heading")).to_be_focused()
    tab.wait_live()  # a conversation that comes before the stream is live is listed, not announced

    stack.emulator.citizen_says(token=BOT_TOKEN, chat_id=911, text="Перше", first_name="Алла")
    expect(page.locator("#announce")).to_contain_text("Алла")
    stack.emulator.citizen_says(token=BOT_TOKEN, chat_id=912, text="Друге", first_name="Борис")
    page.keyboard.press("2")
    expect(tab.view("unassigned")).to_have_attribute("aria-pressed", "true")
    expect(tab.items()).to_have_count(2)
    page.keyboard.press("j")  # the first (newest) conversation
    expect(page.locator("#conv-title")).to_have_text("Борис")
    expect(tab.item("Борис")).to_be_focused()
    assert _focus_ring(page) != "none"
    page.keyboard.press("j")
    expect(page.locator("#conv-title")).to_have_text("Алла")
    page.keyboard.press("k")
    expect(page.locator("#conv-title")).to_have_text("Борис")

    page.keyboard.press("a")
    expect(page.locator("#conv-meta")).to_contain_text("виконавець: ви")
    page.keyboard.press("r")
    expect(page.locator("#text")).to_be_focused()
    page.keyboard.type("jak? ne j/k: ")  # shortcuts never fire while typing
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("друге речення")
    expect(page.locator("#conv-title")).to_have_text("Борис")
    page.keyboard.press("Enter")
    stack.emulator.wait_for_sends(token=BOT_TOKEN, chat_id=912)
    assert stack.emulator.sent(token=BOT_TOKEN, chat_id=912)[0]["text"] == "jak? ne j/k: \nдруге речення"
    expect(page.locator("#text")).to_be_focused()
    expect(page.locator("#text")).to_have_value("")

    page.keyboard.press("Escape")
    expect(page.locator("#log")).to_be_focused()
    page.keyboard.press("n")
    expect(page.locator("#composer")).to_have_attribute("data-mode", "note")
    page.keyboard.type("Нотатка з клавіатури")
    page.keyboard.press("Enter")
    expect(tab.messages("note")).to_contain_text("Нотатка з клавіатури")
    page.keyboard.press("Escape")

    page.keyboard.press("?")
    dialog = page.get_by_role("dialog", name="Клавіатурні скорочення")
    expect(dialog).to_be_visible()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(page.locator("#log")).to_be_focused()  # focus comes back where it was

    page.keyboard.press("r")
    page.keyboard.type("Чернетка")
    page.keyboard.press("Escape")
    page.keyboard.press("3")
    page.keyboard.press("j")
    expect(page.locator("#conv-title")).to_have_text("Алла")
    expect(page.locator("#text")).to_have_value("")
    page.keyboard.press("k")
    expect(page.locator("#conv-title")).to_have_text("Борис")
    expect(page.locator("#text")).to_have_value("Чернетка")  # the draft waited for the agent

    page.keyboard.press("e")
    expect(page.locator("#conv-meta")).to_contain_text("завершена")
    headers = login(stack.client, stack.world.agent_email)
    statuses = {c["contact_name"]: c["status"] for c in
                stack.client.get("/api/v1/conversations", headers=headers).json()["items"]}
    assert statuses == {"Борис": "resolved", "Алла": "open"}

    # After a reload the first Tab reaches the skip link, and it leads to the conversation.
    page.reload()
    expect(page.locator("#conv-title")).to_have_text("Борис")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Перейти до розмови")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#pane")).to_be_focused()


def test_the_inbox_screenshot_and_a_server_rendered_english_shell(
    stack: Stack, console: Callable[..., Console]
) -> None:
    tab = console(viewport={"width": 1280, "height": 720})
    people = [(921, "Оксана Литвин", "Добрий день! Як отримати допомогу ВПО?"),
              (922, "Іван Петренко", "Чи можна подати заяву на субсидію онлайн?"),
              (923, "Марія Коваль", "Дякую за відповідь!"),
              (924, "Андрій Савчук", "Коли буде перерахунок пенсії?")]
    colleague = console()
    colleague.login(stack.world.second_agent_email)  # online: the team summary shows one colleague
    page = tab.login(stack.world.agent_email)
    tab.view("all").click()
    for chat_id, name, text in people:
        stack.emulator.citizen_says(token=BOT_TOKEN, chat_id=chat_id, text=text, first_name=name)
        expect(tab.item(name)).to_be_visible()
    tab.item("Марія Коваль").click()
    page.get_by_role("button", name="Взяти собі").click()
    page.get_by_label("Відповідь", exact=True).fill("Будь ласка! Гарного дня.")
    page.get_by_label("Відповідь", exact=True).press("Enter")
    expect(tab.messages("out").locator(".delivery")).to_have_attribute("data-status", "delivered")
    stack.emulator.citizen_says(token=BOT_TOKEN, chat_id=921, text="Я переселенка з Харкова.")
    expect(tab.item("Оксана Литвин").locator(".badge")).to_contain_text("2")
    page.locator("#team-summary").click()
    expect(page.locator("#team-list")).to_contain_text("Тарас — На зв’язку", timeout=15_000)
    page.locator("#team-summary").blur()
    page.mouse.move(0, 0)
    page.screenshot(path=str(SCREENSHOTS / "console-inbox.png"))

    page.get_by_role("button", name="English").first.click()
    expect(page.get_by_role("heading", name="Conversations")).to_be_visible()
    page.reload()  # the server renders the chosen language from the start
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", name="Conversations")).to_be_visible()
    expect(page.locator(".lang-switch").first).to_have_attribute("lang", "uk")
