"""Telegram files and buttons: the adapter (through aiogram) against the sandbox's Bot API.

Citizens' photos and documents are fetched with getFile and the file URL; agents' files go out by
sendPhoto or sendDocument with the right bytes; quick replies are inline keyboards whose presses
come back as BUTTON events carrying the pressed button's title.
"""

from __future__ import annotations

import hashlib
import json
import struct
import zlib
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from civdesk.channels.base import (
    Button,
    ChannelAccount,
    InboundKind,
    OutboundFile,
    OutboundMessage,
    SendFailed,
)
from civdesk.channels.telegram.adapter import TelegramAdapter
from civdesk.sandbox.app import create_sandbox_app
from civdesk.sandbox.telegram import BotSpec, TelegramEmulator
from tests.support.live_server import LiveServer

TOKEN = "7100001:files-token_A"
CHAT = 4242
PDF = b"%PDF-1.4\n" + b"0" * 2000 + b"\n%%EOF\n"


def jpeg(width: int = 640, height: int = 480, pad: int = 1000) -> bytes:
    """A JPEG header the emulator and civdesk can read (SOI, APP0, SOF0), padded to a size."""
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof0 = b"\xff\xc0" + struct.pack(">HBHHB", 17, 8, height, width, 3) + b"\x01\x22\x00\x02\x11\x01\x03\x11\x01"
    return b"\xff\xd8" + app0 + sof0 + b"\x00" * pad + b"\xff\xd9"


def png(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + chunk + struct.pack(">I", zlib.crc32(chunk))


@pytest.fixture
def emulator() -> TelegramEmulator:
    return TelegramEmulator(bots=[BotSpec(TOKEN, "files_bot", "Агенція")], id_base=1)


@pytest.fixture
def sandbox(emulator: TelegramEmulator) -> Iterator[LiveServer]:
    with LiveServer(create_sandbox_app(emulator=emulator)) as server:
        yield server


@pytest.fixture
def account(sandbox: LiveServer) -> ChannelAccount:
    return ChannelAccount(id=1, config={"api_base": sandbox.url}, secrets={"token": TOKEN, "secret": "s"})


@pytest.fixture
async def adapter() -> AsyncIterator[TelegramAdapter]:
    adapter = TelegramAdapter()
    yield adapter
    await adapter.close()


async def test_a_citizens_photo_is_fetched_as_jpeg(emulator: TelegramEmulator, adapter: TelegramAdapter,
                                                   account: ChannelAccount) -> None:
    photo = jpeg(800, 600)
    update = emulator.citizen_sends_file(TOKEN, CHAT, photo, "IMG_0001.jpg", "image/jpeg", caption="Мій паспорт")

    [event] = adapter.parse(body=json.dumps(update).encode()).events
    assert event.kind is InboundKind.MESSAGE and event.text == "Мій паспорт"
    [attachment] = event.attachments
    assert attachment["kind"] == "photo" and attachment["mime_type"] == "image/jpeg"
    assert (attachment["width"], attachment["height"], attachment["size"]) == (800, 600, len(photo))

    fetched = await adapter.fetch_file(account=account, file_id=str(attachment["file_id"]))
    assert fetched.data == photo and fetched.mime_type == "image/jpeg"
    assert fetched.name is not None and fetched.name.endswith(".jpg")


async def test_a_citizens_document_keeps_its_name_and_type(emulator: TelegramEmulator, adapter: TelegramAdapter,
                                                          account: ChannelAccount) -> None:
    update = emulator.citizen_sends_file(TOKEN, CHAT, PDF, "довідка.pdf", "application/pdf")
    [event] = adapter.parse(body=json.dumps(update).encode()).events
    [attachment] = event.attachments
    assert attachment == {"kind": "document", "file_id": attachment["file_id"], "name": "довідка.pdf",
                          "mime_type": "application/pdf", "size": len(PDF)}
    fetched = await adapter.fetch_file(account=account, file_id=str(attachment["file_id"]))
    # The name stays the citizen's (from the message); the type comes from the file's path.
    assert (fetched.data, fetched.mime_type, fetched.name) == (PDF, "application/pdf", None)


async def test_get_file_refuses_files_over_20_mb_as_telegram_does(
        sandbox: LiveServer, emulator: TelegramEmulator, adapter: TelegramAdapter, account: ChannelAccount) -> None:
    big = b"%PDF-" + b"0" * (20 * 1024 * 1024)
    update = emulator.citizen_sends_file(TOKEN, CHAT, big, "big.pdf", "application/pdf")
    file_id = update["message"]["document"]["file_id"]

    with pytest.raises(SendFailed) as refused:
        await adapter.fetch_file(account=account, file_id=file_id)
    assert refused.value.reason == "Bad Request: file is too big" and refused.value.permanent
    assert refused.value.code == "file_too_big"
    raw = httpx.post(f"{sandbox.url}/bot{TOKEN}/getFile", data={"file_id": file_id})
    assert (raw.status_code, raw.json()) == (400, {"ok": False, "error_code": 400,
                                                   "description": "Bad Request: file is too big"})
    with pytest.raises(SendFailed, match="invalid file_id"):
        await adapter.fetch_file(account=account, file_id="no-such-file")


def test_the_file_url_serves_only_paths_get_file_handed_out(sandbox: LiveServer,
                                                             emulator: TelegramEmulator) -> None:
    update = emulator.citizen_sends_file(TOKEN, CHAT, PDF, "a.pdf", "application/pdf")
    file_id = update["message"]["document"]["file_id"]
    assert httpx.get(f"{sandbox.url}/file/bot{TOKEN}/documents/file_0.pdf").status_code == 404

    path = httpx.get(f"{sandbox.url}/bot{TOKEN}/getFile", params={"file_id": file_id}).json()["result"]["file_path"]
    assert path.startswith("documents/") and path.endswith(".pdf")
    assert httpx.get(f"{sandbox.url}/file/bot{TOKEN}/{path}").content == PDF
    assert httpx.get(f"{sandbox.url}/file/bot1:unknown/{path}").status_code == 404


async def test_an_agents_photo_goes_by_send_photo_with_caption_and_keyboard(
        emulator: TelegramEmulator, adapter: TelegramAdapter, account: ChannelAccount) -> None:
    emulator.citizen_says(token=TOKEN, chat_id=CHAT, text="hi")
    photo = jpeg(1024, 768)
    buttons = (Button("Так", "yes"), Button("Ні", "no"))
    result = await adapter.send(account=account, message=OutboundMessage(
        recipient_external_id=str(CHAT), text="Ось зразок заяви", buttons=buttons,
        file=OutboundFile(name="зразок.jpg", mime_type="image/jpeg", data=photo)))

    [sent] = emulator.sent(token=TOKEN, chat_id=CHAT)
    assert sent["method"] == "sendPhoto" and sent["caption"] == "Ось зразок заяви"
    assert sent["file"]["sha256"] == hashlib.sha256(photo).hexdigest() and sent["file"]["size"] == len(photo)
    assert sent["reply_markup"] == {"inline_keyboard": [[{"text": "Так", "callback_data": "yes"},
                                                         {"text": "Ні", "callback_data": "no"}]]}
    assert result.platform_key == f"{CHAT}:{sent['message_id']}" and not result.awaits_receipt


async def test_documents_large_photos_and_oversized_images_go_by_send_document(
        emulator: TelegramEmulator, adapter: TelegramAdapter, account: ChannelAccount) -> None:
    emulator.citizen_says(token=TOKEN, chat_id=CHAT, text="hi")
    files = [
        OutboundFile(name="рішення.pdf", mime_type="application/pdf", data=PDF),
        OutboundFile(name="scan.jpg", mime_type="image/jpeg", data=jpeg(pad=10 * 1024 * 1024)),
        # Width + height over 10,000: sendPhoto refuses it, the adapter sends it as a document.
        OutboundFile(name="plan.png", mime_type="image/png", data=png(9000, 2000)),
    ]
    for file in files:
        await adapter.send(account=account, message=OutboundMessage(str(CHAT), "", file=file))

    sends = emulator.sent(token=TOKEN, chat_id=CHAT)
    assert [s["method"] for s in sends] == ["sendDocument", "sendDocument", "sendDocument"]
    assert [s["file"]["filename"] for s in sends] == ["рішення.pdf", "scan.jpg", "plan.png"]
    assert [s["file"]["sha256"] for s in sends] == [hashlib.sha256(f.data).hexdigest() for f in files]
    assert sends[0]["file"]["mime_type"] == "application/pdf" and sends[0]["caption"] is None

    huge = OutboundFile(name="архів.pdf", mime_type="application/pdf", data=b"%PDF-" + b"0" * (50 * 1024 * 1024))
    with pytest.raises(SendFailed, match="up to 50 MB") as refused:
        await adapter.send(account=account, message=OutboundMessage(str(CHAT), "x" * 2000, file=huge))
    assert refused.value.permanent and refused.value.code == "too_large"
    assert len(emulator.sent(token=TOKEN, chat_id=CHAT)) == 3  # not even the long text went out


async def test_text_too_long_for_a_caption_goes_first_on_its_own(
        emulator: TelegramEmulator, adapter: TelegramAdapter, account: ChannelAccount) -> None:
    emulator.citizen_says(token=TOKEN, chat_id=CHAT, text="hi")
    text = "Роз'яснення. " * 100  # 1,300 characters
    await adapter.send(account=account, message=OutboundMessage(
        str(CHAT), text, buttons=(Button("Зрозуміло", "ok"),),
        file=OutboundFile(name="a.pdf", mime_type="application/pdf", data=PDF)))
    first, second = emulator.sent(token=TOKEN, chat_id=CHAT)
    assert (first["method"], first["text"], first["reply_markup"]) == ("sendMessage", text, None)
    assert (second["method"], second["caption"]) == ("sendDocument", None)
    assert second["reply_markup"] == {"inline_keyboard": [[{"text": "Зрозуміло", "callback_data": "ok"}]]}


async def test_keyboards_fit_their_titles_and_refuse_long_payloads(
        emulator: TelegramEmulator, adapter: TelegramAdapter, account: ChannelAccount) -> None:
    emulator.citizen_says(token=TOKEN, chat_id=CHAT, text="hi")
    ratings = tuple(Button(str(n), f"csat:{n}") for n in range(1, 6))
    answers = (Button("Отримати довідку", "cert"), Button("Записатися на прийом", "visit"))
    for buttons in (ratings, answers):
        await adapter.send(account=account, message=OutboundMessage(str(CHAT), "Оберіть", buttons=buttons))
    rows = [[[k["callback_data"] for k in row] for row in s["reply_markup"]["inline_keyboard"]]
            for s in emulator.sent(token=TOKEN, chat_id=CHAT)]
    assert rows == [[["csat:1", "csat:2", "csat:3", "csat:4", "csat:5"]], [["cert"], ["visit"]]]

    too_long = (Button("Так", "ї" * 33),)  # 66 bytes in UTF-8
    with pytest.raises(SendFailed, match="Telegram takes 1-64") as refused:
        await adapter.send(account=account, message=OutboundMessage(str(CHAT), "?", buttons=too_long))
    assert refused.value.permanent and len(emulator.sent(token=TOKEN, chat_id=CHAT)) == 2


async def test_a_press_comes_back_with_the_buttons_title_and_is_answered(
        emulator: TelegramEmulator, adapter: TelegramAdapter, account: ChannelAccount) -> None:
    emulator.citizen_says(token=TOKEN, chat_id=CHAT, text="hi")
    await adapter.send(account=account, message=OutboundMessage(
        str(CHAT), "Чи вирішено питання?", buttons=(Button("Так, дякую", "resolved"), Button("Ні", "open"))))
    [sent] = emulator.sent(token=TOKEN, chat_id=CHAT)
    update = emulator.citizen_presses(token=TOKEN, chat_id=CHAT, callback_data="resolved",
                                      message_id=sent["message_id"])

    [event] = adapter.parse(body=json.dumps(update).encode()).events
    assert event.kind is InboundKind.BUTTON and event.button_payload == "resolved"
    assert event.text == "Так, дякую" and event.button_query_id
    await adapter.acknowledge_button(account=account, query_id=event.button_query_id)
    assert emulator.sent(token=TOKEN, chat_id=CHAT)[-1]["method"] == "answerCallbackQuery"


def test_raw_bot_api_uploads_as_curl_sends_them(sandbox: LiveServer, emulator: TelegramEmulator) -> None:
    emulator.citizen_says(token=TOKEN, chat_id=CHAT, text="hi")
    base = f"{sandbox.url}/bot{TOKEN}"
    sent = httpx.post(f"{base}/sendDocument", data={"chat_id": str(CHAT), "caption": "Рішення"},
                      files={"document": ("рішення.pdf", PDF, "application/octet-stream")}).json()
    document = sent["result"]["document"]
    assert (document["file_name"], document["mime_type"], document["file_size"]) == (
        "рішення.pdf", "application/pdf", len(PDF))
    assert sent["result"]["caption"] == "Рішення"
    again = httpx.post(f"{base}/sendDocument", json={"chat_id": CHAT, "document": document["file_id"]}).json()
    assert again["result"]["document"]["file_id"] == document["file_id"]  # re-sent by file_id

    refusals = [
        ("sendPhoto", {"photo": ("x.jpg", b"not an image", "image/jpeg")}, {}, "IMAGE_PROCESS_FAILED"),
        ("sendDocument", {"document": ("a.pdf", PDF, "application/pdf")}, {"caption": "x" * 1025},
         "message caption is too long"),
        ("sendDocument", None, {}, "there is no document in the request"),
        ("sendDocument", {"document": ("a.pdf", PDF, "application/pdf")}, {"chat_id": "999"}, "chat not found"),
    ]
    for method, files, extra, description in refusals:
        reply = httpx.post(f"{base}/{method}", data={"chat_id": str(CHAT), **extra}, files=files)
        assert reply.status_code == 400 and description in reply.json()["description"], (method, reply.text)
    over = httpx.post(f"{base}/sendDocument", data={"chat_id": str(CHAT)},
                      files={"document": ("big.bin", b"0" * (50 * 1024 * 1024 + 1), "text/plain")})
    assert over.status_code == 413 and over.json()["description"] == "Request Entity Too Large"


def test_control_api_sends_the_citizens_files_and_serves_them_to_the_page(sandbox: LiveServer,
                                                                         emulator: TelegramEmulator) -> None:
    api = f"{sandbox.url}/sandbox/api/telegram/{TOKEN}"
    photo = jpeg(320, 240)
    said = httpx.post(f"{api}/chats/{CHAT}/files", data={"caption": "Фото", "first_name": "Марко"},
                      files={"file": ("me.jpg", photo, "image/jpeg")})
    assert said.status_code == 200, said.text
    message = said.json()["message"]
    assert message["caption"] == "Фото" and message["photo"][0]["width"] == 320
    assert message["from"]["first_name"] == "Марко"
    as_doc = httpx.post(f"{api}/chats/{CHAT}/files", data={"as_photo": "false"},
                        files={"file": ("scan.jpg", photo, "image/jpeg")}).json()["message"]
    assert as_doc["document"]["file_name"] == "scan.jpg" and "photo" not in as_doc

    [entry, _] = httpx.get(f"{api}/chats/{CHAT}/history").json()["entries"]
    assert entry["file"]["kind"] == "photo" and entry["file"]["sha256"] == hashlib.sha256(photo).hexdigest()
    served = httpx.get(f"{api}/files/{entry['file']['file_id']}")
    assert served.content == photo and served.headers["content-type"] == "image/jpeg"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert served.headers["content-disposition"].startswith("attachment")

    bad = [({"file": ("x.png", png(10, 10), "image/png")}, {"as_photo": "true"}, 422),
           ({"file": ("empty.txt", b"", "text/plain")}, {}, 422)]
    for files, data, status in bad:
        assert httpx.post(f"{api}/chats/{CHAT}/files", data=data, files=files).status_code == status
    assert httpx.get(f"{api}/files/nope").status_code == 404
