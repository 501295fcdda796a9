"""The agent console live: a citizen writes in Telegram, the agent sees it at once, answers, colleagues see it.

Pages come with the server's own strict Content-Security-Policy; any violation or uncaught page error
fails the test (see console_page.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Locator, expect

from tests.console.console_page import Console
from tests.support.stack import Stack
from tests.support.world import BOT_TOKEN, login

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
# Records notifications and beeps instead of showing or playing them.
SPIES = """
window.__notifications = [];
window.__beeps = 0;
class SpyNotification {
  static permission = "default";
  static requestPermission() { SpyNotification.permission = "granted"; return Promise.resolve("granted"); }
  constructor(title, options) { window.__notifications.push({ title, body: options.body }); }
  addEventListener() {}
  close() {}
}
window.Notification = SpyNotification;
document.hasFocus = () => false;
const oscillator = AudioContext.prototype.createOscillator;
AudioContext.prototype.createOscillator = function () { window.__beeps += 1; return oscillator.call(this); };
"""


def test_a_new_conversation_appears_live_and_the_citizen_gets_the_reply(
    stack: Stack, console: Callable[..., Console]
) -> None:
    tab = console(viewport={"width": 1280, "height": 920})
    tab.page.add_init_script(SPIES)
    page = tab.login(stack.world.agent_email)
    expect(page.locator("#presence")).to_have_value("online")
    expect(page.locator("#me-name")).to_have_text("Олена")
    page.get_by_role("button", name="Увімкнути сповіщення").click()  # permission asked on a click
    expect(page.get_by_role("button", name="Увімкнути сповіщення")).to_be_hidden()
    expect(tab.view("mine")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#list-empty")).to_have_text("У вас немає відкритих розмов.")

    started = time.monotonic()
    stack.emulator.citizen_says(token=BOT_TOKEN, chat_id=701, text="Добрий день! Як оформити субсидію?",
                                first_name="Марія")
    expect(tab.view("unassigned").locator(".badge")).to_have_text("1, непрочитаних розмов: 1", timeout=1000)
    assert time.monotonic() - started < 1.0
    page.keyboard.press("2")
    item = tab.item("Марія")
    expect(item).to_be_visible()
    expect(item).to_contain_text("Telegram")
    expect(item).to_contain_text("без виконавця")
    expect(item.locator(".badge")).to_contain_text("непрочитаних: 1")
    expect(tab.view("all").locator(".badge")).to_contain_text("1")
    expect(tab.view("mine").locator(".badge")).to_be_hidden()
    expect(page.locator("#announce")).to_have_text("Нова розмова: Марія, Telegram.")
    assert page.evaluate("window.__notifications") == [{"title": "Нова розмова", "body": "Марія · Telegram"}]
    assert page.evaluate("window.__beeps") == 1
    expect(page).to_have_title("(1) Консоль працівника — civdesk")

    stack.emulator.citizen_says(token=BOT_TOKEN, chat_id=702, text="Коли прийде пенсія?", first_name="Іван")
    expect(tab.items()).to_have_count(2)
    expect(tab.items().first).to_contain_text("Іван")  # newest activity first
    stack.emulator.citizen_says(token=BOT_TOKEN, chat_id=701, text="Я з Полтави.")
    expect(tab.items().first).to_contain_text("Марія")
    expect(item.locator(".badge")).to_contain_text("непрочитаних: 2")

    item.click()
    expect(page).to_have_url(f"{tab.url}#/conversations/{_id(item)}")
    expect(tab.messages("in").locator(".msg__text")).to_have_text(["Добрий день! Як оформити субсидію?",
                                                                   "Я з Полтави."])
    expect(item.locator(".badge")).to_have_count(0)
    expect(page.get_by_role("log")).to_have_attribute("aria-live", "polite")

    page.get_by_role("button", name="Взяти собі").click()
    expect(page.locator("#conv-meta")).to_contain_text("виконавець: ви")
    expect(tab.view("mine").locator(".views__label")).to_have_text("Мої")
    page.get_by_label("Відповідь", exact=True).fill("Добрий день! Подайте заяву через Дію.\nАбо в ЦНАП.")
    page.get_by_label("Відповідь", exact=True).press("Enter")
    [sent] = stack.emulator.wait_for_sends(token=BOT_TOKEN, chat_id=701)
    assert sent["text"] == "Добрий день! Подайте заяву через Дію.\nАбо в ЦНАП."
    reply = tab.messages("out").last
    expect(reply.locator(".delivery")).to_have_attribute("data-status", "delivered")
    expect(reply.locator(".delivery")).to_have_text("Стан: ✓✓доставлено")

    page.get_by_text("Нотатка для колег").click()
    expect(page.locator("#composer")).to_have_attribute("data-mode", "note")
    page.get_by_label("Внутрішня нотатка (громадянин її не бачить)").fill("Перевірити, чи подано заяву в ЦНАП.")
    page.get_by_role("button", name="Додати нотатку").click()
    note = tab.messages("note")
    expect(note).to_contain_text("Нотатка · бачать лише працівники")
    expect(note.locator(".msg__text")).to_have_text("Перевірити, чи подано заяву в ЦНАП.")
    assert note.evaluate("e => getComputedStyle(e).backgroundColor") != reply.evaluate(
        "e => getComputedStyle(e).backgroundColor")

    # A reply that cannot be delivered says why.
    stack.emulator.citizen_blocks_bot(token=BOT_TOKEN, chat_id=701)
    page.get_by_text("Відповідь громадянину").click()
    page.get_by_label("Відповідь", exact=True).fill("Ви ще тут?")
    page.get_by_label("Відповідь", exact=True).press("Enter")
    failed = tab.messages("out").last
    expect(failed.locator(".delivery")).to_have_attribute("data-status", "failed")
    expect(failed.locator(".delivery")).to_contain_text("не доставлено: ")
    expect(failed.locator(".delivery__reason")).not_to_be_empty()
    assert len(stack.emulator.sent(token=BOT_TOKEN, chat_id=701)) == 1  # the note never left civdesk

    page.mouse.move(0, 0)
    page.locator("#text").blur()
    page.keyboard.press("1")
    expect(tab.items()).to_have_count(1)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "console-conversation.png"))


def test_a_colleague_sees_the_assignment_and_the_resolution_live(
    stack: Stack, console: Callable[..., Console]
) -> None:
    olena, taras = console(), console()
    olena.login(stack.world.agent_email)
    page = taras.login(stack.world.second_agent_email)
    taras.view("unassigned").click()
    stack.emulator.citizen_says(token=BOT_TOKEN, chat_id=711, text="Де моя довідка?", first_name="Оксана")
    expect(taras.item("Оксана")).to_be_visible(timeout=1000)
    expect(taras.item("Оксана")).to_contain_text("без виконавця")

    olena.view("unassigned").click()
    olena.item("Оксана").click()
    olena.page.locator("#log").focus()
    olena.page.keyboard.press("a")  # take it
    expect(olena.page.locator("#conv-meta")).to_contain_text("виконавець: ви")
    expect(taras.item("Оксана")).to_have_count(0, timeout=1000)  # gone from Taras's unassigned view
    taras.view("all").click()
    expect(taras.item("Оксана")).to_contain_text("виконавець: Олена")

    taras.item("Оксана").click()
    expect(page.locator("#conv-meta")).to_contain_text("виконавець: Олена")
    olena.page.keyboard.press("e")  # resolve
    expect(olena.page.locator("#conv-meta")).to_contain_text("завершена")
    expect(page.locator("#conv-meta")).to_contain_text("завершена", timeout=1000)
    expect(page.get_by_role("button", name="Розмову завершено.")).to_be_disabled()
    expect(taras.item("Оксана")).to_have_count(0)  # the inbox shows open conversations only
    # A note from Olena reaches Taras's open transcript live.
    headers = login(stack.client, stack.world.agent_email)
    conversation_id = int(page.url.rsplit("/", 1)[1])
    stack.client.post(f"/api/v1/conversations/{conversation_id}/notes", headers=headers,
                      json={"text": "Довідку надіслано поштою."}).raise_for_status()
    expect(taras.messages("note")).to_contain_text("Довідку надіслано поштою.", timeout=1000)
    expect(taras.messages("note")).to_contain_text("Олена")


def test_files_go_up_and_come_down_through_the_api_with_the_token(
    stack: Stack, console: Callable[..., Console]
) -> None:
    tab = console()
    page = tab.login(stack.world.agent_email)
    stack.emulator.citizen_says(token=BOT_TOKEN, chat_id=721, text="Надішліть бланк, будь ласка", first_name="Петро")
    tab.view("all").click()
    tab.item("Петро").click()
    page.locator("#file").set_input_files(files=[{"name": "бланк заяви.pdf", "mimeType": "application/pdf",
                                                  "buffer": b"%PDF-1.4\n% civdesk test form\n"}])
    expect(page.locator("#file-chosen")).to_contain_text("бланк заяви.pdf")
    page.get_by_label("Відповідь", exact=True).fill("Ось бланк.")
    page.get_by_role("button", name="Надіслати").click()
    sent = tab.messages("out").last
    expect(sent.locator(".file__name")).to_have_text("бланк заяви.pdf")
    expect(page.locator("#file-chosen")).to_be_hidden()
    with page.expect_download() as download_info:
        sent.get_by_role("button", name="Завантажити бланк заяви.pdf").click()
    download = download_info.value
    assert download.suggested_filename == "бланк заяви.pdf"
    assert Path(download.path()).read_bytes() == b"%PDF-1.4\n% civdesk test form\n"


def _id(item: Locator) -> str:
    return str(item.get_attribute("data-id"))
