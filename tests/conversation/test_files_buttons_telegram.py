"""Files and buttons end to end through the Telegram sandbox: citizen → civdesk → agent and back."""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from civdesk.audit.models import AuditEvent
from civdesk.config import Settings
from civdesk.db.session import create_engine_for, create_sessionmaker
from tests.conftest import TEST_SECRET
from tests.support.stack import Stack
from tests.support.world import BOT_TOKEN, login, run_async, wait_for

CHAT = 700200
MAX_BYTES = 1024 * 1024
PDF = b"%PDF-1.4\n" + b"1" * 5000 + b"\n%%EOF\n"


def jpeg(width: int = 640, height: int = 480, pad: int = 3000) -> bytes:
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof0 = b"\xff\xc0" + struct.pack(">HBHHB", 17, 8, height, width, 3) + b"\x01\x22\x00\x02\x11\x01\x03\x11\x01"
    return b"\xff\xd8" + app0 + sof0 + b"\x07" * pad + b"\xff\xd9"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """A small file limit, so "too big" needs no large test files, and a file store of this test's own."""
    return Settings(database_url=database_url, secret_key=TEST_SECRET, environment="test",
                    delivery_poll_seconds=0.05, files_dir=tmp_path / "files", max_file_bytes=MAX_BYTES)


def _conversation(stack: Stack, headers: dict[str, str]) -> dict[str, Any]:
    def found() -> list[dict[str, Any]]:
        response = stack.client.get("/api/v1/conversations", headers=headers)
        response.raise_for_status()
        return [c for c in response.json()["items"] if c["channel_type"] == "telegram"]

    return dict(wait_for(found, what="the conversation")[0])


def _messages(stack: Stack, headers: dict[str, str], conversation_id: int) -> list[dict[str, Any]]:
    response = stack.client.get(f"/api/v1/conversations/{conversation_id}/messages", headers=headers)
    response.raise_for_status()
    return list(response.json()["items"])


def _settled_files(stack: Stack, headers: dict[str, str], conversation_id: int, count: int) -> list[dict[str, Any]]:
    """Inbound messages once every file on them has been fetched (or refused)."""
    def ready() -> list[dict[str, Any]]:
        inbound = [m for m in _messages(stack, headers, conversation_id) if m["attachments"]]
        settled = all("stored_key" in a or "fetch_error" in a for m in inbound for a in m["attachments"])
        return inbound if len(inbound) == count and settled else []

    return list(wait_for(ready, timeout=10, what=f"{count} messages with fetched files"))


async def _audit_actions(settings: Settings) -> list[AuditEvent]:
    engine = create_engine_for(settings.database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            return list(await session.scalars(select(AuditEvent).where(AuditEvent.action == "file.download")))
    finally:
        await engine.dispose()


def test_a_citizens_photo_and_document_are_fetched_stored_and_downloaded(stack: Stack, settings: Settings) -> None:
    photo = jpeg(1280, 960)
    stack.emulator.citizen_sends_file(BOT_TOKEN, CHAT, photo, "IMG_1.jpg", "image/jpeg", caption="Паспорт")
    stack.emulator.citizen_sends_file(BOT_TOKEN, CHAT, PDF, "довідка.pdf", "application/pdf")
    agent = login(stack.client, stack.world.agent_email)
    conversation = _conversation(stack, agent)

    first, second = _settled_files(stack, agent, conversation["id"], 2)
    assert first["text"] == "Паспорт" and second["text"] == ""
    [image], [document] = first["attachments"], second["attachments"]
    assert (image["kind"], image["mime_type"], image["size"]) == ("photo", "image/jpeg", len(photo))
    assert (document["name"], document["mime_type"], document["size"]) == ("довідка.pdf", "application/pdf", len(PDF))
    assert image["stored_key"] == hashlib.sha256(photo).hexdigest()

    for message, data in ((first, photo), (second, PDF)):
        download = stack.client.get(f"/api/v1/messages/{message['id']}/files/0", headers=agent)
        assert download.status_code == 200 and download.content == data
        assert download.headers["content-disposition"].startswith("attachment")
        assert download.headers["x-content-type-options"] == "nosniff"
    assert stack.client.get(f"/api/v1/messages/{first['id']}/files/1", headers=agent).status_code == 404
    stranger = login(stack.client, stack.world.other_agent_email)
    assert stack.client.get(f"/api/v1/messages/{first['id']}/files/0", headers=stranger).status_code == 404

    audited = run_async(_audit_actions(settings))
    assert sorted(int(e.subject_id) for e in audited) == sorted([first["id"], second["id"]])
    assert all(e.actor_agent_id is not None for e in audited)


def test_an_agents_files_and_buttons_reach_the_citizen_and_the_press_comes_back(stack: Stack) -> None:
    stack.emulator.citizen_says(token=BOT_TOKEN, chat_id=CHAT, text="Надішліть бланк, будь ласка")
    agent = login(stack.client, stack.world.agent_email)
    conversation = _conversation(stack, agent)
    base = f"/api/v1/conversations/{conversation['id']}"
    photo = jpeg()

    document = stack.client.post(f"{base}/attachments", headers=agent, data={"text": "Бланк заяви"},
                                 files={"file": ("бланк.pdf", PDF, "application/pdf")})
    assert document.status_code == 202, document.text
    stack.emulator.wait_for_sends(token=BOT_TOKEN, chat_id=CHAT, count=1)
    picture = stack.client.post(f"{base}/attachments", headers=agent,
                                files={"file": ("зразок.jpg", photo, "image/jpeg")})
    assert picture.status_code == 202, picture.text
    stack.emulator.wait_for_sends(token=BOT_TOKEN, chat_id=CHAT, count=2)
    buttons = [{"title": "Так", "payload": "resolved"}, {"title": "Ні", "payload": "still-open"}]
    asked = stack.client.post(f"{base}/messages", headers=agent, json={"text": "Питання вирішено?", "buttons": buttons})
    assert asked.status_code == 202 and asked.json()["buttons"] == buttons

    sent_doc, sent_photo, question = stack.emulator.wait_for_sends(token=BOT_TOKEN, chat_id=CHAT, count=3)
    assert (sent_doc["method"], sent_doc["caption"], sent_doc["file"]["filename"]) == (
        "sendDocument", "Бланк заяви", "бланк.pdf")
    assert sent_doc["file"]["sha256"] == hashlib.sha256(PDF).hexdigest()
    assert sent_photo["method"] == "sendPhoto" and sent_photo["file"]["sha256"] == hashlib.sha256(photo).hexdigest()
    assert question["reply_markup"] == {"inline_keyboard": [[{"text": "Так", "callback_data": "resolved"},
                                                             {"text": "Ні", "callback_data": "still-open"}]]}

    stack.emulator.citizen_presses(token=BOT_TOKEN, chat_id=CHAT, callback_data="resolved",
                                   message_id=question["message_id"])
    pressed = wait_for(lambda: [m for m in _messages(stack, agent, conversation["id"])
                                if m["direction"] == "in" and m["text"] == "Так"], what="the press")
    assert len(pressed) == 1
    answered = wait_for(lambda: [s for s in stack.emulator.sent(token=BOT_TOKEN, chat_id=CHAT)
                                 if s["method"] == "answerCallbackQuery"], what="the spinner stopped")
    assert len(answered) == 1
    wait_for(lambda: [m["delivery_status"] for m in _messages(stack, agent, conversation["id"])
                      if m["direction"] == "out"] == ["delivered"] * 3, what="all three delivered")


def test_files_too_big_or_of_a_refused_type_are_refused_clearly(stack: Stack) -> None:
    stack.emulator.citizen_says(token=BOT_TOKEN, chat_id=CHAT, text="Питання")
    agent = login(stack.client, stack.world.agent_email)
    conversation = _conversation(stack, agent)
    url = f"/api/v1/conversations/{conversation['id']}/attachments"
    english = {**agent, "accept-language": "en"}

    too_big = stack.client.post(url, headers=english,
                                files={"file": ("big.pdf", b"%PDF-" + b"0" * MAX_BYTES, "application/pdf")})
    assert too_big.status_code == 400 and "larger than 1 MB" in too_big.json()["error"]["message"]
    program = stack.client.post(url, headers=english,
                                files={"file": ("setup.exe", b"MZ\x90\x00", "application/x-msdownload")})
    assert program.status_code == 400 and "not accepted" in program.json()["error"]["message"]
    fake_pdf = stack.client.post(url, headers=english, files={"file": ("a.pdf", b"<html>", "application/pdf")})
    assert fake_pdf.status_code == 400 and "not application/pdf" in fake_pdf.json()["error"]["message"]

    # From the citizen: over civdesk's limit, and over Telegram's 20 MB getFile limit.
    stack.emulator.citizen_sends_file(BOT_TOKEN, CHAT, b"%PDF-" + b"0" * MAX_BYTES, "big.pdf", "application/pdf")
    stack.emulator.citizen_sends_file(BOT_TOKEN, CHAT, b"%PDF-" + b"0" * (20 * 1024 * 1024), "huge.pdf",
                                      "application/pdf")
    big, huge = _settled_files(stack, agent, conversation["id"], 2)
    assert "larger than 1 MB" in big["attachments"][0]["fetch_error"]
    assert huge["attachments"][0]["fetch_error"] == "Bad Request: file is too big"
    missing = stack.client.get(f"/api/v1/messages/{big['id']}/files/0", headers=english)
    assert missing.status_code == 404 and "not been fetched" in missing.json()["error"]["message"]
    assert stack.emulator.sent(token=BOT_TOKEN, chat_id=CHAT) == []
