"""Files and buttons in the citizen web chat, in real headless Chromium against the real stack.

The citizen attaches a file with the keyboard only; the agent sees and downloads it, sends a file
and buttons back; the citizen downloads the file and presses a button, which the agent then sees.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from civdesk.config import Settings
from tests.conftest import TEST_SECRET
from tests.support.stack import Stack
from tests.support.world import wait_for
from tests.web.chat_page import Agent, Citizen

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]

MAX_BYTES = 512 * 1024
PDF = b"%PDF-1.4\n" + b"3" * 4000 + b"\n%%EOF\n"


def png(width: int = 160, height: int = 120) -> bytes:
    """A real, decodable PNG (a blue field), so the page's preview can be seen to load."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\x0a\x58\xa8" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def open_with_chooser(citizen: Citizen) -> Page:
    """Opens the chat with file choosers intercepted from the start: Playwright turns interception on
    when the first listener is added, which could otherwise race the keypress that opens the chooser."""
    citizen.page.on("filechooser", lambda _: None)
    return citizen.open()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=database_url, secret_key=TEST_SECRET, environment="test",
                    delivery_poll_seconds=0.05, files_dir=tmp_path / "files", max_file_bytes=MAX_BYTES)


def test_keyboard_citizen_sends_a_file_and_presses_an_agents_button(
    stack: Stack, citizen_in: Callable[..., Citizen]
) -> None:
    citizen = citizen_in(viewport={"width": 1000, "height": 760}, accept_downloads=True)
    page = open_with_chooser(citizen)
    page.locator("#message").focus()
    page.keyboard.type("Надсилаю довідку")
    page.keyboard.press("Tab")
    assert citizen.focused() == "send"
    page.keyboard.press("Tab")
    assert citizen.focused() == "attach"  # a real button, reachable and labelled
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"
    with page.expect_file_chooser() as chooser:
        page.keyboard.press("Enter")
    chooser.value.set_files(files=[{"name": "довідка.pdf", "mimeType": "application/pdf", "buffer": PDF}])
    expect(page.locator("#attach-name")).to_have_text("довідка.pdf (3,9 КБ)")
    expect(page.get_by_role("status")).to_contain_text("Файл «довідка.pdf» прикріплено")
    expect(page.get_by_role("button", name="Прибрати файл")).to_be_visible()
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Shift+Tab")
    assert citizen.focused() == "message"
    page.keyboard.press("Enter")

    expect(citizen.states()).to_have_text(["надіслано"], timeout=5000)
    own_file = page.locator(".msg--own .msg__file-link")
    expect(own_file).to_contain_text("довідка.pdf")  # a real link once the server has it
    expect(page.locator("#attach-chosen")).to_be_hidden()
    agent = Agent(stack)
    conversation = agent.conversation()
    [message] = wait_for(lambda: agent.messages(conversation["id"]), what="the file")
    assert message["text"] == "Надсилаю довідку" and message["attachments"][0]["name"] == "довідка.pdf"
    download = stack.client.get(f"/api/v1/messages/{message['id']}/files/0", headers=agent.headers)
    assert download.content == PDF

    photo = png()
    agent.send_file(conversation["id"], "зразок.png", photo, "image/png", text="Зразок заповнення")
    agent.reply(conversation["id"], "Чи все зрозуміло?", buttons=[{"title": "Так", "payload": "clear"},
                                                                  {"title": "Ні", "payload": "unclear"}])
    preview = page.locator(".msg--agency .msg__preview")
    expect(preview).to_have_count(1, timeout=5000)
    until_loaded = "document.querySelector('.msg--agency .msg__preview').naturalWidth"
    wait_for(lambda: page.evaluate(until_loaded) == 160, what="the preview to load")
    link = page.get_by_role("link", name="зразок.png")
    with page.expect_download() as got:
        link.click()
    assert got.value.suggested_filename == "зразок.png"
    assert Path(got.value.path()).read_bytes() == photo

    group = page.get_by_role("group", name="Варіанти відповіді")
    yes = group.get_by_role("button", name="Так")
    yes.focus()
    page.keyboard.press("Enter")
    expect(yes).to_be_disabled()
    expect(group.get_by_role("button", name="Ні")).to_be_disabled()
    expect(yes).to_have_accessible_name("Так (ваш вибір)")
    assert citizen.focused() == "message"  # focus does not vanish with the disabled button
    expect(citizen.own()).to_have_text(["Надсилаю довідку", "Так"])
    expect(citizen.states()).to_have_text(["надіслано", "надіслано"], timeout=5000)
    wait_for(lambda: [m["text"] for m in agent.messages(conversation["id"]) if m["direction"] == "in"]
             == ["Надсилаю довідку", "Так"], what="the press to reach the agent")

    page.reload()  # the transcript brings back files and the answered buttons, closed
    expect(page.locator(".msg__file-link")).to_have_count(2)
    expect(page.get_by_role("group", name="Варіанти відповіді").get_by_role("button")).to_have_count(2)
    expect(page.locator(".msg__button:enabled")).to_have_count(0)


def test_a_file_too_big_or_of_a_refused_type_is_explained_and_never_sent(
    stack: Stack, citizen_in: Callable[..., Citizen]
) -> None:
    citizen = citizen_in()
    page = open_with_chooser(citizen)
    error = page.locator("#attach-error")
    for name, mime, data, message in (
        ("великий.pdf", "application/pdf", b"%PDF-" + b"0" * MAX_BYTES, "завеликий: можна до 512 КБ"),
        ("програма.exe", "application/x-msdownload", b"MZ\x90\x00", "Файли такого типу не приймаються"),
    ):
        with page.expect_file_chooser() as chooser:
            page.get_by_role("button", name="Прикріпити файл").click()
        chooser.value.set_files(files=[{"name": name, "mimeType": mime, "buffer": data}])
        expect(error).to_contain_text(message)
        assert citizen.focused() == "attach"
        expect(page.locator("#attach-chosen")).to_be_hidden()
    page.locator("#message").press("Enter")
    expect(page.locator("#message-error")).to_have_text("Напишіть повідомлення або прикріпіть файл.")
    assert citizen.sent_ids == [] and page.evaluate("localStorage.length") == 0


def test_files_and_buttons_pass_axe_and_fit_320px(stack: Stack, citizen_in: Callable[..., Citizen]) -> None:
    citizen = citizen_in(viewport={"width": 320, "height": 640}, reduced_motion="reduce")
    page = open_with_chooser(citizen)
    citizen.send("Питання")
    agent = Agent(stack)
    conversation = agent.conversation()
    agent.send_file(conversation["id"], "дуже-довга-назва-файлу-без-пробілів-" * 4 + ".pdf", PDF,
                    "application/pdf")
    agent.send_file(conversation["id"], "фото.png", png(), "image/png")
    agent.reply(conversation["id"], "Оцініть відповідь", buttons=[
        {"title": str(n), "payload": f"csat:{n}"} for n in range(1, 6)] + [{"title": "Не хочу оцінювати",
                                                                              "payload": "csat:skip"}])
    expect(page.locator(".msg__button")).to_have_count(6, timeout=5000)
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Прикріпити файл").click()
    chooser.value.set_files(files=[{"name": "скан.pdf", "mimeType": "application/pdf", "buffer": PDF}])
    expect(page.locator("#attach-chosen")).to_be_visible()
    axe = Axe()
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)  # type: ignore[arg-type]
        results = axe.run(page)
        assert results.violations_count == 0, f"{scheme}:\n{results.generate_report()}"
        assert citizen.scroll_width() <= 320, f"{scheme}: horizontal scroll"
    for locator in (page.locator(".msg__button").first, page.locator("#attach")):
        box = locator.bounding_box()
        assert box is not None and box["height"] >= 44 and box["x"] + box["width"] <= 320
