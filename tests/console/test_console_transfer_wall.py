"""Transferring from the console, and the supervisor's wall, in a real browser: a transfer to another
agency shows the history there, live; the wall shows queues, targets at risk and agents, and opens a
conversation in one click — by keyboard, and axe-clean."""

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
from tests.support.world import BOT_TOKEN, login, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def _clean(page: Page, when: str) -> None:
    results = Axe().run(page)
    assert results.violations_count == 0, f"{when}:\n{results.generate_report()}"


def test_a_transfer_to_another_agency_shows_the_history_there(
    stack: Stack, settings: Settings, console: Callable[..., Console]
) -> None:
    pfu_admin = login(stack.client, add_agent(settings, slug="pfu", email="admin@pfu.test", role="admin"))
    accepted = stack.client.patch(
        "/api/v1/routing/settings", headers=pfu_admin, json={"accepts_transfers_from": ["minsoc"]}
    )
    assert accepted.status_code == 200, accepted.text
    stack.emulator.citizen_says(token=BOT_TOKEN, chat_id=9601, text="Коли перерахують мою пенсію?", first_name="Марія")

    receiver = console()
    pfu = receiver.login(stack.world.other_agent_email)
    receiver.view("all").click()
    expect(receiver.item("Марія")).to_have_count(0)

    sender = console()
    page = sender.login(stack.world.agent_email)
    sender.view("all").click()
    sender.item("Марія").click()
    page.get_by_label("Відповідь", exact=True).fill("Уточніть, будь ласка, ваш вік.")
    page.get_by_label("Відповідь", exact=True).press("Enter")
    expect(sender.messages("out")).to_have_count(1)

    page.locator("#log").focus()
    page.keyboard.press("t")
    dialog = page.get_by_role("dialog", name="Передати розмову")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label("Колезі")).to_be_focused()
    expect(dialog.get_by_label("Працівник")).to_contain_text("Тарас")
    _clean(page, "transfer dialog open")
    dialog.get_by_label("Іншому відомству").check()
    expect(dialog.get_by_label("Відомство")).to_have_value("pfu")
    dialog.get_by_role("button", name="Передати").click()  # no note yet: refused here, the dialog stays
    expect(dialog.get_by_role("alert")).to_have_text("Вкажіть причину передачі — щонайменше 5 символів.")
    note = dialog.get_by_label("Причина передачі (обов’язково)")
    expect(note).to_be_focused()
    expect(note).to_have_attribute("aria-invalid", "true")
    _clean(page, "transfer dialog with an error")
    note.fill("Питання про пенсію — це ПФУ")
    dialog.get_by_role("button", name="Передати").click()

    expect(dialog).to_be_hidden()
    expect(sender.item("Марія")).to_have_count(0)  # gone from my lists, and from the pane
    expect(page.locator("#pane-empty")).to_be_visible()
    expect(page.locator("#announce")).to_have_text(
        "Розмову передано до «Пенсійний фонд України». Вона зникла з ваших списків."
    )

    expect(receiver.item("Марія")).to_be_visible()  # live, without a reload
    receiver.item("Марія").click()
    expect(receiver.messages("in").locator(".msg__text")).to_have_text(["Коли перерахують мою пенсію?"])
    expect(receiver.messages("out").first.locator(".msg__text")).to_have_text("Уточніть, будь ласка, ваш вік.")
    expect(receiver.messages("note")).to_contain_text("Питання про пенсію — це ПФУ")
    expect(pfu.locator("#conv-meta")).to_contain_text("без виконавця")

    told = wait_for(
        lambda: [s["text"] for s in stack.emulator.sent(token=BOT_TOKEN, chat_id=9601) if "передано" in s["text"]],
        what="the citizen's transfer notice",
    )
    assert "«Пенсійний фонд України»" in told[0] and "Питання про пенсію — це ПФУ" in told[0]


def test_the_supervisor_wall_shows_queues_targets_and_agents_live(
    stack: Stack, settings: Settings, console: Callable[..., Console]
) -> None:
    admin = login(stack.client, add_agent(settings, slug="minsoc", email="admin@minsoc.test", role="admin"))
    changed = stack.client.patch("/api/v1/routing/settings", headers=admin, json={"first_response_seconds": 600})
    assert changed.status_code == 200, changed.text
    colleague = console()
    colleague.login(stack.world.agent_email)
    stack.emulator.citizen_says(token=BOT_TOKEN, chat_id=9701, text="Як подати на субсидію?", first_name="Ірина")

    plain = colleague.page
    expect(plain.locator("#wall-open")).to_be_hidden()  # agents have no wall

    tab = console(viewport={"width": 1280, "height": 760})
    page = tab.login("admin@minsoc.test")
    tab.view("all").click()
    expect(tab.item("Ірина")).to_be_visible()
    page.locator("#inbox-heading").focus()
    page.keyboard.press("w")
    wall = page.get_by_role("region", name="Стіна керівника")
    expect(wall).to_be_visible()
    expect(page.locator("#wall-open")).to_have_attribute("aria-pressed", "true")
    queues = page.locator("#wall-queues tbody tr")
    expect(queues).to_have_count(1)
    expect(queues.first).to_contain_text("Загальна черга")
    expect(queues.first.locator("td").first).to_have_text("1")
    risk = page.locator("#wall-risk button")
    expect(risk).to_have_count(1)
    expect(risk.first).to_contain_text("Ірина")
    expect(risk.first).to_contain_text("перша відповідь")
    expect(risk.first).to_contain_text("залишилось")
    expect(page.locator("#wall-agents")).to_contain_text("Без регіону: на зв’язку 2 з 3")
    expect(page.locator("#wall-agents")).to_contain_text("навантаження 0 з 5")
    _clean(page, "the supervisor's wall")

    stack.emulator.citizen_says(token=BOT_TOKEN, chat_id=9702, text="А де мій лист?", first_name="Богдан")
    expect(queues.first.locator("td").first).to_have_text("2")  # live: the event refreshes the wall
    expect(risk).to_have_count(2)
    wall.blur()
    page.mouse.move(0, 0)
    page.screenshot(path=str(SCREENSHOTS / "console-wall.png"))

    risk.filter(has_text="Ірина").click()
    expect(wall).to_be_hidden()
    expect(page.locator("#conv-title")).to_have_text("Ірина")
    expect(tab.messages("in").locator(".msg__text")).to_have_text(["Як подати на субсидію?"])
    expect(page.locator("#wall-open")).to_have_attribute("aria-pressed", "false")

    page.get_by_role("button", name="English").first.click()
    page.locator("#wall-open").click()
    expect(page.get_by_role("region", name="Supervisor's wall")).to_be_visible()
    expect(page.locator("#wall-agents")).to_contain_text("No region: 2 of 3 online")
    page.get_by_role("button", name="Close the wall").click()
    expect(page.locator("#wall-open")).to_be_focused()
    expect(page.locator("#conv-title")).to_have_text("Ірина")
