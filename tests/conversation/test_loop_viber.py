"""Viber end to end: the REST Bot API emulator → civdesk's webhook → agent API → reply → the emulator.

Files to citizens: Viber takes no uploads, it downloads media from a link in the message, so civdesk signs
`<settings.public_url>/files/public/<token>`. The `stack` fixture starts civdesk on a free port only after
`settings` exists, so its address cannot be the public URL. It need not be: in a deployment the public URL is
the address of a reverse proxy in front of civdesk. The tests set a fixed public address (PUBLIC_URL), check
that the link Viber receives points there, and then do the proxy's job by requesting the link's path from the
live civdesk server. A test that parametrizes `public_url` with "" covers a deployment with no public URL.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from civdesk.channels.base import ChannelAccount
from civdesk.channels.viber import ViberAdapter
from civdesk.config import Settings
from civdesk.sandbox.viber import ViberEmulator, sign
from tests.channels.viber.support import CITIZEN, TOKEN, make_emulator, sandbox_app
from tests.support import agent_desk as desk
from tests.support.live_server import LiveServer
from tests.support.stack import Stack
from tests.support.world import login, run_async, wait_for

OTHER_CITIZEN = "9xTqL2mPaRb0c4dE/FgHiw=="
SENDER_NAME = "Мінсоцполітики"
WELCOME = "Вітаємо в чаті Мінсоцполітики! Напишіть своє питання."
PUBLIC_URL = "https://civdesk.minsoc.example"


@dataclass
class Viber:
    emulator: ViberEmulator
    channel_id: int
    headers: dict[str, str]


@pytest.fixture
def public_url() -> str:
    return PUBLIC_URL


@pytest.fixture
def settings(settings: Settings, public_url: str, tmp_path: Path) -> Settings:
    # Stored files go to the test's own directory rather than the checkout's var/files.
    return settings.model_copy(update={"public_url": public_url, "files_dir": tmp_path / "files"})


async def _register_webhook(api_base: str, channel_id: int, url: str) -> None:
    """What `civdesk channel register-webhook` does: set_webhook, answered by Viber's signed probe."""
    adapter = ViberAdapter()
    try:
        account = ChannelAccount(id=channel_id, config={"api_base": api_base}, secrets={"token": TOKEN})
        await adapter.register_webhook(account=account, url=url)
    finally:
        await adapter.close()


@pytest.fixture
def viber(stack: Stack, settings: Settings) -> Iterator[Viber]:
    # Viber's `delivered` comes only when a test sends it (_viber_delivers). The emulator would otherwise POST it
    # while civdesk's worker is still recording the send, and civdesk can lose a receipt in that race: see
    # test_a_receipt_that_races_the_send_is_not_lost in test_loop_messenger.py.
    emulator = make_emulator(auto_delivered=False)
    with LiveServer(sandbox_app(emulator)) as sandbox:
        emulator.set_public_url(sandbox.url)  # the citizens' media links point at the sandbox's "CDN"
        channel_id = desk.add_channel(
            settings, type="viber", name="Viber", secrets={"token": TOKEN},
            config={"api_base": sandbox.url, "sender_name": SENDER_NAME, "welcome_text": WELCOME},
        )
        url = f"{stack.server.url}/webhooks/viber/{channel_id}"
        run_async(_register_webhook(sandbox.url, channel_id, url))
        assert emulator.webhook_info(token=TOKEN)["url"] == url  # civdesk answered the probe with 200
        yield Viber(emulator=emulator, channel_id=channel_id, headers=login(stack.client, stack.world.agent_email))


def _viber_conversations(stack: Stack, viber: Viber) -> list[dict]:
    return desk.conversations(stack, viber.headers, "viber")


def _conversation(stack: Stack, viber: Viber, name: str | None = None) -> dict:
    return desk.conversation(stack, viber.headers, "viber", name)


def _messages(stack: Stack, viber: Viber, conversation_id: int) -> list[dict]:
    return desk.messages(stack, viber.headers, conversation_id)


def _reply(stack: Stack, viber: Viber, conversation_id: int, text: str, **extra: object) -> dict:
    return desk.reply(stack, viber.headers, conversation_id, text, **extra)


def _message(
    stack: Stack, viber: Viber, conversation_id: int, message_id: int, what: str, *, timeout: float = 5.0,
    until: desk.Check,
) -> dict:
    return desk.message_when(stack, viber.headers, conversation_id, message_id, what, until=until, timeout=timeout)


_status, _accepted, _is_blocked = desk.status, desk.accepted, desk.is_blocked


def _viber_delivers(stack: Stack, viber: Viber, message_token: int, user_id: str = CITIZEN) -> None:
    """Viber's `delivered` callback for one of the bot's messages, signed as Viber signs it."""
    callback = {
        "event": "delivered",
        "timestamp": int(time.time() * 1000),
        "chat_hostname": "SN-CHAT-01_",
        "message_token": message_token,
        "user_id": user_id,
    }
    body = json.dumps(callback, separators=(",", ":")).encode()
    response = stack.client.post(
        f"/webhooks/viber/{viber.channel_id}",
        content=body,
        headers={"content-type": "application/json", "X-Viber-Content-Signature": sign(TOKEN, body)},
    )
    assert response.status_code == 200, response.text


def test_welcome_text_both_ways_receipts_buttons_and_redelivery(stack: Stack, viber: Viber) -> None:
    viber.emulator.citizen_opens_chat(token=TOKEN, user_id=CITIZEN, name="Ігор", context="subsidies")
    # The welcome goes back in the webhook's own HTTP answer; the emulator records it as Viber would send it.
    [welcome] = viber.emulator.wait_for_sends(token=TOKEN, user_id=CITIZEN, count=1)
    assert welcome["method"] == "welcome"
    assert welcome["body"] == {"sender": {"name": SENDER_NAME}, "type": "text", "text": WELCOME}
    # Opening the chat is not a question: no conversation yet (the answer above came after civdesk's commit).
    assert _viber_conversations(stack, viber) == []

    viber.emulator.wait_until_delivered()  # nothing else is queued: the duplicated push is the question
    viber.emulator.duplicate_next_push(token=TOKEN)
    viber.emulator.citizen_says(token=TOKEN, user_id=CITIZEN, text="Як оформити субсидію?")
    conversation = _conversation(stack, viber)
    assert conversation["contact_name"] == "Ігор"

    answer = _reply(stack, viber, conversation["id"], "Подайте заяву через Дію або в ЦНАП.")
    sent = viber.emulator.wait_for_sends(token=TOKEN, user_id=CITIZEN, count=2)[1]
    assert sent["method"] == "send_message"
    assert sent["body"] == {
        "receiver": CITIZEN,
        "sender": {"name": SENDER_NAME},
        "type": "text",
        "text": "Подайте заяву через Дію або в ЦНАП.",
    }
    accepted = _message(stack, viber, conversation["id"], answer["id"], "the send's answer", until=_accepted)
    assert accepted["delivery_status"] == "sent"  # Viber took it; delivery is reported later
    _viber_delivers(stack, viber, sent["message_token"])
    _message(stack, viber, conversation["id"], answer["id"], "the delivered receipt", until=_status("delivered"))
    viber.emulator.citizen_reads(token=TOKEN, user_id=CITIZEN)
    _message(stack, viber, conversation["id"], answer["id"], "the seen receipt", until=_status("read"))

    rating = [{"title": str(n), "payload": f"csat:{n}"} for n in range(1, 6)]
    _reply(stack, viber, conversation["id"], "Оцініть, будь ласка, консультацію", buttons=rating)
    sent = viber.emulator.wait_for_sends(token=TOKEN, user_id=CITIZEN, count=3)[2]
    buttons = sent["body"]["keyboard"]["Buttons"]
    assert [(b["ActionType"], b["ActionBody"]) for b in buttons] == [("reply", str(n)) for n in range(1, 6)]
    viber.emulator.citizen_presses(token=TOKEN, user_id=CITIZEN, button="5")
    pressed = wait_for(
        lambda: [m for m in _messages(stack, viber, conversation["id"]) if m["text"] == "5"], what="the button press"
    )
    assert pressed[0]["direction"] == "in"
    # The message was POSTed twice, and each citizen's callbacks go out one after another, so the duplicate
    # was answered before the press: the question is stored once.
    incoming = [m["text"] for m in _messages(stack, viber, conversation["id"]) if m["direction"] == "in"]
    assert incoming == ["Як оформити субсидію?", "5"]

    # Viber's `failed` callback moves a message to failed, with Viber's reason for the agent.
    later = _reply(stack, viber, conversation["id"], "Чи отримали ви довідку?")
    sent = viber.emulator.wait_for_sends(token=TOKEN, user_id=CITIZEN, count=4)[3]
    _message(stack, viber, conversation["id"], later["id"], "the send's answer", until=_accepted)
    viber.emulator.fail_delivery(token=TOKEN, message_token=sent["message_token"], desc="Receiver is offline")
    failed = _message(stack, viber, conversation["id"], later["id"], "the failed receipt", until=_status("failed"))
    assert failed["delivery_error"] == "Receiver is offline"


def test_a_file_each_way(stack: Stack, viber: Viber) -> None:
    pdf = b"%PDF-1.4\n% civdesk test\n" + b"0" * 2048
    viber.emulator.citizen_sends_media(
        token=TOKEN, user_id=CITIZEN, kind="file", data=pdf, name="довідка.pdf", mime_type="application/pdf"
    )
    conversation = _conversation(stack, viber)
    stored = wait_for(
        lambda: [
            m
            for m in _messages(stack, viber, conversation["id"])
            if m["attachments"] and m["attachments"][0].get("stored_key")
        ],
        what="the stored file",
    )
    assert stored[0]["attachments"][0]["name"] == "довідка.pdf"
    download = stack.client.get(f"/api/v1/messages/{stored[0]['id']}/files/0", headers=viber.headers)
    assert download.status_code == 200 and download.content == pdf
    assert download.headers["content-disposition"].startswith("attachment")

    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 512
    response = stack.client.post(
        f"/api/v1/conversations/{conversation['id']}/attachments",
        headers=viber.headers,
        files={"file": ("схема.png", png, "image/png")},
        data={"text": "Ось схема"},
    )
    assert response.status_code == 202, response.text
    [sent] = viber.emulator.wait_for_sends(token=TOKEN, user_id=CITIZEN, count=1)
    body = sent["body"]
    assert body["type"] == "picture" and body["text"] == "Ось схема"  # a small picture carries its caption
    # The link is under the public URL; the "proxy" forwards its path to civdesk, and Viber gets the bytes.
    assert body["media"].startswith(f"{PUBLIC_URL}/files/public/")
    fetched = stack.client.get(urlsplit(body["media"]).path)
    assert fetched.status_code == 200 and fetched.content == png

    reply = stack.client.post(
        f"/api/v1/conversations/{conversation['id']}/attachments",
        headers=viber.headers,
        files={"file": ("відповідь.pdf", pdf, "application/pdf")},
    )
    assert reply.status_code == 202, reply.text
    sent = viber.emulator.wait_for_sends(token=TOKEN, user_id=CITIZEN, count=2)[1]
    assert {k: sent["body"][k] for k in ("type", "file_name", "size")} == {
        "type": "file",
        "file_name": "відповідь.pdf",
        "size": len(pdf),
    }
    assert stack.client.get(urlsplit(sent["body"]["media"]).path).content == pdf
    _message(stack, viber, conversation["id"], reply.json()["id"], "the send's answer", until=_accepted)


@pytest.mark.parametrize("public_url", [""], ids=["no-public-url"])
def test_without_a_public_url_a_file_fails_with_the_reason(stack: Stack, viber: Viber) -> None:
    viber.emulator.citizen_says(token=TOKEN, user_id=CITIZEN, text="Надішліть зразок заяви")
    conversation = _conversation(stack, viber)
    response = stack.client.post(
        f"/api/v1/conversations/{conversation['id']}/attachments",
        headers=viber.headers,
        files={"file": ("зразок.pdf", b"%PDF-1.4\n" + b"1" * 64, "application/pdf")},
        data={"text": "Зразок заяви"},
    )
    assert response.status_code == 202, response.text
    failed = _message(stack, viber, conversation["id"], response.json()["id"], "the failure", until=_status("failed"))
    assert "public URL" in failed["delivery_error"]  # SendFailed(code="needs_public_url")
    assert viber.emulator.sent(token=TOKEN) == []
    # Text still goes: only files need the link.
    _reply(stack, viber, conversation["id"], "Зразок є на сайті міністерства")
    [sent] = viber.emulator.wait_for_sends(token=TOKEN, user_id=CITIZEN, count=1)
    assert sent["body"]["type"] == "text"


def test_wrong_signature_is_refused_and_nothing_is_stored(stack: Stack, viber: Viber) -> None:
    url = f"/webhooks/viber/{viber.channel_id}"
    callback = {
        "event": "message",
        "timestamp": int(time.time() * 1000),
        "chat_hostname": "SN-CHAT-01_",
        "message_token": 5_466_358_343_372_400_001,
        "sender": {"id": CITIZEN, "name": "Ігор", "language": "uk", "country": "UA", "api_version": 10},
        "message": {"type": "text", "text": "Підроблене повідомлення"},
        "silent": False,
    }
    body = json.dumps(callback, ensure_ascii=False, separators=(",", ":")).encode()
    headers = {"content-type": "application/json"}
    forged = sign("not-the-bot-token-0000", body)
    for extra, query in (({"X-Viber-Content-Signature": forged}, ""), ({}, ""), ({}, f"?sig={forged}")):
        refused = stack.client.post(url + query, content=body, headers=headers | extra)
        assert refused.status_code == 401, refused.text
    # The right signature over different bytes (a tampered body) is refused too.
    tampered = body.replace("Підроблене".encode(), "Змінене".encode())
    assert (
        stack.client.post(
            url, content=tampered, headers=headers | {"X-Viber-Content-Signature": sign(TOKEN, body)}
        ).status_code
        == 401
    )
    assert stack.client.get(url).status_code == 404  # Viber has no GET handshake
    assert _viber_conversations(stack, viber) == []

    good = stack.client.post(url, content=body, headers=headers | {"X-Viber-Content-Signature": sign(TOKEN, body)})
    assert good.status_code == 200 and good.json()["stored"] == 1
    again = stack.client.post(url, content=body, headers=headers | {"X-Viber-Content-Signature": sign(TOKEN, body)})
    assert again.status_code == 200 and again.json()["duplicates"] == 1
    conversation = _conversation(stack, viber)
    assert [m["text"] for m in _messages(stack, viber, conversation["id"])] == ["Підроблене повідомлення"]


def test_unsubscribe_and_status_6_fail_the_reply_and_mark_the_citizen(
    stack: Stack, viber: Viber, settings: Settings
) -> None:
    viber.emulator.citizen_says(token=TOKEN, user_id=CITIZEN, text="Питання")
    conversation = _conversation(stack, viber)

    viber.emulator.citizen_unsubscribes(token=TOKEN, user_id=CITIZEN)
    viber.emulator.wait_until_delivered()  # civdesk has committed the `unsubscribed` callback
    assert _is_blocked(settings, viber.channel_id, CITIZEN)
    refused = _reply(stack, viber, conversation["id"], "Не дійде")
    failed = _message(stack, viber, conversation["id"], refused["id"], "the failure", until=_status("failed"))
    assert failed["delivery_error"]
    assert viber.emulator.sent(token=TOKEN) == []  # failed at once: Viber was not even asked

    viber.emulator.citizen_subscribes(token=TOKEN, user_id=CITIZEN)
    viber.emulator.wait_until_delivered()
    assert not _is_blocked(settings, viber.channel_id, CITIZEN)
    _reply(stack, viber, conversation["id"], "Ви знову з нами")
    viber.emulator.wait_for_sends(token=TOKEN, user_id=CITIZEN, count=1)

    # Viber itself says "not subscribed" (status 6), e.g. before the `unsubscribed` callback has arrived.
    viber.emulator.fail_next(token=TOKEN, endpoint="send_message", status=6)
    rejected = _reply(stack, viber, conversation["id"], "А це?")
    failed = _message(stack, viber, conversation["id"], rejected["id"], "the status 6", until=_status("failed"))
    assert "status 6" in failed["delivery_error"] and "unsubscribed" in failed["delivery_error"]
    assert _is_blocked(settings, viber.channel_id, CITIZEN)
    assert len(viber.emulator.sent(token=TOKEN)) == 1


def test_errors_are_retried_and_status_12_keeps_the_reply_queued_with_the_reason(stack: Stack, viber: Viber) -> None:
    viber.emulator.citizen_says(token=TOKEN, user_id=CITIZEN, text="Питання")
    conversation = _conversation(stack, viber)
    # An unlisted status is Viber's "general error": retried after a backoff of a second.
    viber.emulator.fail_next(token=TOKEN, endpoint="send_message", status=999)
    first = _reply(stack, viber, conversation["id"], "Відповідь")
    [sent] = viber.emulator.wait_for_sends(token=TOKEN, user_id=CITIZEN, count=1, timeout=8)
    assert sent["body"]["text"] == "Відповідь"
    _message(stack, viber, conversation["id"], first["id"], "the send's answer", until=_accepted)

    # Status 12: 100 messages to this citizen within an hour without a reply. civdesk tries again in 300 s;
    # meanwhile the reply stays queued and the agent sees why.
    viber.emulator.fail_next(token=TOKEN, endpoint="send_message", status=12)
    held = _reply(stack, viber, conversation["id"], "Ще одна відповідь")
    queued = _message(
        stack, viber, conversation["id"], held["id"], "the status 12 reason", until=lambda m: m["delivery_error"]
    )
    assert queued["delivery_status"] == "queued"
    assert "status 12" in queued["delivery_error"] and "300 s" in queued["delivery_error"]
    assert len(viber.emulator.sent(token=TOKEN)) == 1


def test_status_12_for_one_citizen_does_not_hold_up_the_others(stack: Stack, viber: Viber) -> None:
    viber.emulator.citizen_says(token=TOKEN, user_id=CITIZEN, text="Питання", name="Ігор")
    viber.emulator.citizen_says(token=TOKEN, user_id=OTHER_CITIZEN, text="Інше питання", name="Марта")
    first = _conversation(stack, viber, "Ігор")
    other = _conversation(stack, viber, "Марта")
    viber.emulator.fail_next(token=TOKEN, endpoint="send_message", status=12)
    held = _reply(stack, viber, first["id"], "Відповідь Ігорю")
    _message(stack, viber, first["id"], held["id"], "the status 12 reason", until=lambda m: m["delivery_error"])
    _reply(stack, viber, other["id"], "Відповідь Марті")
    [sent] = viber.emulator.wait_for_sends(token=TOKEN, user_id=OTHER_CITIZEN, count=1, timeout=5)
    assert sent["body"]["text"] == "Відповідь Марті"
