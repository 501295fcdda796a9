"""A place on the map and a contact card from the console's composer: the agent fills a small form, the
Telegram citizen gets a venue and a contact, and the transcript shows them readably. Slips are caught in
the form without a request; what the server refuses is shown on its field; the open form is axe-clean."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, Request, expect

from tests.console.console_page import Console
from tests.support.stack import Stack
from tests.support.world import BOT_TOKEN, login

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]

CHAT = 971
CENTRE = {"title": "ЦНАП Печерського району", "address": "вул. Московська, 40/1, Київ"}
OSM = "https://www.openstreetmap.org/?mlat=50.450100&mlon=30.523400#map=17/50.450100/30.523400"
# Pasted from a map: both numbers land in their fields.
PASTE_PAIR = """el => {
  const data = new DataTransfer();
  data.setData("text/plain", "50.4501, 30.5234");
  el.dispatchEvent(new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true }));
}"""


def _open_conversation(stack: Stack, tab: Console, chat_id: int, name: str) -> Page:
    stack.emulator.citizen_says(token=BOT_TOKEN, chat_id=chat_id, text="Де найближчий ЦНАП?", first_name=name)
    page = tab.login(stack.world.agent_email)
    tab.view("all").click()
    tab.item(name).click()
    expect(tab.messages("in")).to_have_count(1)
    return page


def _replies(page: Page) -> list[Request]:
    """Every reply the page posts from now on."""
    posted: list[Request] = []
    page.on("request", lambda r: posted.append(r) if r.method == "POST" and r.url.endswith("/messages") else None)
    return posted


def test_the_agent_sends_a_place_and_a_contact_to_a_telegram_citizen(
    stack: Stack, console: Callable[..., Console]
) -> None:
    tab = console()
    page = _open_conversation(stack, tab, CHAT, "Ганна")
    posted = _replies(page)
    toggle = page.get_by_role("button", name="Місце або контакт")
    form = page.get_by_role("form", name="Надіслати місце або контакт")
    expect(form).to_be_hidden()

    # By keyboard: the button opens the form on the kind, which is a place to begin with.
    toggle.focus()
    page.keyboard.press("Enter")
    expect(form).to_be_visible()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(form.get_by_role("radio", name="Місце на мапі")).to_be_focused()
    expect(form.get_by_role("button", name="Надіслати місце")).to_be_visible()

    # A latitude of 504 (a lost point) never leaves the page.
    latitude, longitude = form.get_by_label("Широта"), form.get_by_label("Довгота")
    latitude.fill("504.501")
    longitude.fill("30.5234")
    form.get_by_role("button", name="Надіслати місце").click()
    expect(form.get_by_role("alert")).to_have_text("Широта — число від −90 до 90.")
    expect(latitude).to_have_attribute("aria-invalid", "true")
    expect(latitude).to_be_focused()
    longitude.fill("")
    latitude.fill("50.4501")
    form.get_by_role("button", name="Надіслати місце").click()
    expect(form.get_by_role("alert")).to_have_text("Довгота — число від −180 до 180.")
    expect(longitude).to_be_focused()
    assert posted == [] and stack.emulator.sent(token=BOT_TOKEN, chat_id=CHAT) == []

    # Esc closes the form and gives focus back to its button; what was typed waits.
    page.keyboard.press("Escape")
    expect(form).to_be_hidden()
    expect(toggle).to_be_focused()
    expect(toggle).to_have_attribute("aria-expanded", "false")
    page.keyboard.press("Enter")
    expect(latitude).to_have_value("50.4501")

    latitude.evaluate(PASTE_PAIR)
    expect(latitude).to_have_value("50.4501")
    expect(longitude).to_have_value("30.5234")
    form.get_by_label("Назва місця (необов’язково)").fill(CENTRE["title"])
    form.get_by_label("Адреса (необов’язково)").fill(CENTRE["address"])
    page.keyboard.press("Enter")  # in a field, Enter sends the form
    [venue] = stack.emulator.wait_for_sends(token=BOT_TOKEN, chat_id=CHAT)
    assert {k: venue[k] for k in ("method", "latitude", "longitude", "title", "address")} == {
        "method": "sendVenue",
        "latitude": 50.4501,
        "longitude": 30.5234,
        **CENTRE,
    }
    expect(form).to_be_hidden()
    expect(page.locator("#text")).to_be_focused()
    expect(page.locator("#announce")).to_have_text("Місце прийнято до надсилання.")
    place = tab.messages("out").last.locator(".file")
    expect(place.locator(".file__name")).to_have_text(CENTRE["title"])
    expect(place.locator(".file__detail")).to_have_text(CENTRE["address"])
    link = place.get_by_role("link", name="50.450100, 30.523400 (відкрити на мапі)")
    expect(link).to_have_attribute("href", OSM)
    expect(link).to_have_attribute("target", "_blank")
    expect(tab.messages("out").last.locator(".delivery")).to_have_attribute("data-status", "delivered")

    # A contact card: the number's form is the server's to judge, and its refusal lands on the field.
    toggle.click()
    expect(latitude).to_have_value("")  # sent, so cleared
    form.get_by_role("radio", name="Контакт").check()
    expect(form.get_by_label("Широта")).to_be_hidden()
    send = form.get_by_role("button", name="Надіслати контакт")
    send.click()
    expect(form.get_by_role("alert")).to_have_text("Вкажіть номер телефону.")
    phone = form.get_by_label("Номер телефону")
    expect(phone).to_be_focused()
    phone.fill("044 123 45 67")
    form.get_by_label("Ім’я або назва").fill("Гаряча лінія")
    form.get_by_label("Прізвище (необов’язково)").fill("Мінсоцполітики")
    send.click()
    expect(form.get_by_role("alert")).to_contain_text("Сервер не прийняв поле «Номер телефону»: ")
    expect(form.get_by_role("alert").locator("[lang=en]")).to_contain_text("phone_number must be in international form")
    expect(phone).to_have_attribute("aria-invalid", "true")
    expect(phone).to_be_focused()
    assert len(posted) == 2 and len(stack.emulator.sent(token=BOT_TOKEN, chat_id=CHAT)) == 1
    phone.fill("+380 (44) 123-45-67")
    expect(phone).not_to_have_attribute("aria-invalid", "true")
    expect(form.get_by_role("alert")).to_be_hidden()
    send.click()
    contact = stack.emulator.wait_for_sends(token=BOT_TOKEN, chat_id=CHAT, count=2)[1]
    assert {k: contact[k] for k in ("method", "phone_number", "first_name", "last_name")} == {
        "method": "sendContact",
        "phone_number": "+380441234567",
        "first_name": "Гаряча лінія",
        "last_name": "Мінсоцполітики",
    }
    card = tab.messages("out").last.locator(".file")
    expect(card.locator(".file__name")).to_have_text("Контакт: Гаряча лінія Мінсоцполітики")
    expect(card.get_by_role("link", name="+380441234567")).to_have_attribute("href", "tel:+380441234567")
    expect(tab.messages("out").last.locator(".delivery")).to_have_attribute("data-status", "delivered")
    expect(page.locator("#announce")).to_have_text("Контакт прийнято до надсилання.")

    # Both stored as the API stores them; a note has no place or contact to send.
    headers = login(stack.client, stack.world.agent_email)
    conversation_id = int(page.url.rsplit("/", 1)[1])
    messages = stack.client.get(f"/api/v1/conversations/{conversation_id}/messages", headers=headers).json()
    out = [m for m in messages["items"] if m["direction"] == "out"]
    assert [m["attachments"][0]["kind"] for m in out] == ["location", "contact"]
    page.get_by_text("Нотатка для колег").click()
    expect(toggle).to_be_hidden()


@pytest.mark.parametrize("width", [1280, 320])
def test_axe_finds_nothing_on_the_open_form(stack: Stack, console: Callable[..., Console], width: int) -> None:
    tab = console(viewport={"width": width, "height": 760})
    page = _open_conversation(stack, tab, 981, "Остап")
    page.get_by_role("button", name="Місце або контакт").click()
    form = page.get_by_role("form", name="Надіслати місце або контакт")
    expect(form).to_be_visible()
    _clean(page, tab, "the place form", width)

    form.get_by_role("button", name="Надіслати місце").click()
    expect(form.get_by_role("alert")).to_have_text("Широта — число від −90 до 90.")
    _clean(page, tab, "the place form with an error", width)
    send = form.get_by_role("button", name="Надіслати місце").bounding_box()
    assert send is not None and send["x"] >= 0 and send["x"] + send["width"] <= width

    form.get_by_role("radio", name="Контакт").check()
    expect(form.get_by_label("Номер телефону")).to_be_visible()
    _clean(page, tab, "the contact form", width)

    page.get_by_role("button", name="English").first.click()
    form = page.locator("#share")
    expect(form).to_have_accessible_name("Send a place or a contact")
    expect(form.get_by_role("button", name="Send the contact")).to_be_visible()
    form.get_by_role("button", name="Send the contact").click()
    expect(form.get_by_role("alert")).to_have_text("Enter the phone number.")
    page.get_by_role("button", name="Українська").first.click()
    expect(form.get_by_role("alert")).to_have_text("Вкажіть номер телефону.")  # the error follows the language
    page.get_by_role("button", name="English").first.click()
    _clean(page, tab, "the contact form in English", width)


def _clean(page: Page, tab: Console, when: str, width: int) -> None:
    results = Axe().run(page)
    assert results.violations_count == 0, f"{when}:\n{results.generate_report()}"
    assert tab.scroll_width() <= width, f"{when}: horizontal scroll at {width} px"
