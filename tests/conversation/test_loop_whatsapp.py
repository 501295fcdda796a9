"""WhatsApp end to end: the Cloud API emulator → civdesk's webhook → agent API → reply → the emulator."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import update

from civdesk.config import Settings
from civdesk.conversation.models import Message
from civdesk.core.clock import now
from civdesk.db.session import create_engine_for, create_sessionmaker
from civdesk.sandbox.whatsapp import WhatsAppEmulator
from tests.channels.whatsapp.support import APP_SECRET, PHONE_ID, TOKEN, VERIFY_TOKEN, emulator_app, make_emulator
from tests.support import agent_desk as desk
from tests.support.live_server import LiveServer
from tests.support.stack import Stack
from tests.support.world import login, run_async, wait_for

CITIZEN = "380671112233"


@dataclass
class WhatsApp:
    emulator: WhatsAppEmulator
    channel_id: int
    headers: dict[str, str]


@pytest.fixture
def wa(stack: Stack, settings: Settings) -> Iterator[WhatsApp]:
    emulator = make_emulator()
    with LiveServer(emulator_app(emulator)) as sandbox:
        channel_id = desk.add_channel(
            settings, type="whatsapp", name="WhatsApp",
            config={"api_base": sandbox.url, "api_version": "v21.0", "phone_number_id": PHONE_ID},
            secrets={"token": TOKEN, "app_secret": APP_SECRET, "verify_token": VERIFY_TOKEN},
        )
        # Meta's GET handshake against civdesk's real webhook URL, as the App Dashboard does it.
        emulator.subscribe(
            phone_number_id=PHONE_ID,
            url=f"{stack.server.url}/webhooks/whatsapp/{channel_id}",
            verify_token=VERIFY_TOKEN,
        )
        yield WhatsApp(emulator=emulator, channel_id=channel_id, headers=login(stack.client, stack.world.agent_email))


def _conversation(stack: Stack, wa: WhatsApp) -> dict:
    return desk.conversation(stack, wa.headers, "whatsapp")


def _messages(stack: Stack, wa: WhatsApp, conversation_id: int) -> list[dict]:
    return desk.messages(stack, wa.headers, conversation_id)


def test_text_buttons_receipts_and_redelivery(stack: Stack, wa: WhatsApp) -> None:
    wa.emulator.duplicate_next_push(phone_number_id=PHONE_ID)
    wa.emulator.citizen_says(phone_number_id=PHONE_ID, wa_id=CITIZEN, text="Як отримати допомогу ВПО?", name="Ігор")
    conversation = _conversation(stack, wa)
    assert conversation["contact_name"] == "Ігор"
    wa.emulator.wait_until_delivered()
    assert [m["text"] for m in _messages(stack, wa, conversation["id"])] == ["Як отримати допомогу ВПО?"]

    rating = [{"title": str(n), "payload": f"csat:{n}"} for n in range(1, 6)]
    stack.client.post(
        f"/api/v1/conversations/{conversation['id']}/messages",
        headers=wa.headers,
        json={"text": "Оцініть, будь ласка, консультацію", "buttons": rating},
    ).raise_for_status()
    [sent] = wa.emulator.wait_for_sends(phone_number_id=PHONE_ID, to=CITIZEN, count=1)
    assert sent["type"] == "interactive"  # five choices: a list, as WhatsApp allows only three reply buttons
    # The platform reports "sent" then "delivered"; the citizen reads it.
    wait_for(
        lambda: [m for m in _messages(stack, wa, conversation["id"]) if m["delivery_status"] == "delivered"],
        what="the delivered receipt",
    )
    wa.emulator.citizen_reads(phone_number_id=PHONE_ID, wa_id=CITIZEN, message_id=sent["wamid"])
    wait_for(
        lambda: [m for m in _messages(stack, wa, conversation["id"]) if m["delivery_status"] == "read"],
        what="the read receipt",
    )
    wa.emulator.citizen_presses(phone_number_id=PHONE_ID, wa_id=CITIZEN, message_id=sent["wamid"], reply_id="csat:5")
    pressed = wait_for(
        lambda: [m for m in _messages(stack, wa, conversation["id"]) if m["text"] == "5"], what="the button press"
    )
    assert pressed[0]["direction"] == "in"


def test_a_file_each_way(stack: Stack, wa: WhatsApp) -> None:
    pdf = b"%PDF-1.4\n% civdesk test\n" + b"0" * 2048
    wa.emulator.citizen_sends_media(
        phone_number_id=PHONE_ID,
        wa_id=CITIZEN,
        kind="document",
        data=pdf,
        mime_type="application/pdf",
        filename="довідка.pdf",
        caption="Моя довідка",
    )
    conversation = _conversation(stack, wa)
    stored = wait_for(
        lambda: [
            m
            for m in _messages(stack, wa, conversation["id"])
            if m["attachments"] and m["attachments"][0].get("stored_key")
        ],
        what="the stored file",
    )
    download = stack.client.get(f"/api/v1/messages/{stored[0]['id']}/files/0", headers=wa.headers)
    assert download.status_code == 200 and download.content == pdf
    assert download.headers["content-disposition"].startswith("attachment")

    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 512
    response = stack.client.post(
        f"/api/v1/conversations/{conversation['id']}/attachments",
        headers=wa.headers,
        files={"file": ("схема.png", png, "image/png")},
        data={"text": "Ось схема"},
    )
    assert response.status_code == 202, response.text
    [sent] = wa.emulator.wait_for_sends(phone_number_id=PHONE_ID, to=CITIZEN, count=1)
    assert sent["type"] == "image"
    refused = stack.client.post(
        f"/api/v1/conversations/{conversation['id']}/attachments",
        headers=wa.headers,
        files={"file": ("virus.exe", b"MZ\x90\x00", "application/x-msdownload")},
    )
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "invalid_input"


def test_wrong_signature_and_handshake_token_are_refused(stack: Stack, wa: WhatsApp) -> None:
    url = f"/webhooks/whatsapp/{wa.channel_id}"
    body = b'{"object":"whatsapp_business_account","entry":[]}'
    assert (
        stack.client.post(url, content=body, headers={"X-Hub-Signature-256": "sha256=" + "0" * 64}).status_code == 401
    )
    assert stack.client.post(url, content=body).status_code == 401
    params = {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "123"}
    assert stack.client.get(url, params=params).status_code == 403
    params["hub.verify_token"] = VERIFY_TOKEN
    good = stack.client.get(url, params=params)
    assert good.status_code == 200 and good.text == "123"


def test_rate_limit_is_retried_and_an_unreachable_citizen_fails_with_the_reason(stack: Stack, wa: WhatsApp) -> None:
    wa.emulator.citizen_says(phone_number_id=PHONE_ID, wa_id=CITIZEN, text="Питання")
    conversation = _conversation(stack, wa)
    wa.emulator.fail_next(phone_number_id=PHONE_ID, code=130429)
    stack.client.post(
        f"/api/v1/conversations/{conversation['id']}/messages", headers=wa.headers, json={"text": "Відповідь"}
    ).raise_for_status()
    [sent] = wa.emulator.wait_for_sends(phone_number_id=PHONE_ID, to=CITIZEN, count=1, timeout=8)
    assert sent["text"] == "Відповідь"
    wa.emulator.fail_next(phone_number_id=PHONE_ID, code=131026)
    stack.client.post(
        f"/api/v1/conversations/{conversation['id']}/messages", headers=wa.headers, json={"text": "Не дійде"}
    ).raise_for_status()
    failed = wait_for(
        lambda: [m for m in _messages(stack, wa, conversation["id"]) if m["delivery_status"] == "failed"],
        what="the failure",
        timeout=15,  # WhatsApp's pair limit (one message per 6 s to one citizen) paces the second reply
    )
    assert failed[0]["text"] == "Не дійде" and failed[0]["delivery_error"]


def test_outside_the_24_hour_window_the_agent_is_told_and_may_send_a_template(
    stack: Stack, wa: WhatsApp, settings: Settings
) -> None:
    wa.emulator.citizen_says(phone_number_id=PHONE_ID, wa_id=CITIZEN, text="Питання")
    conversation = _conversation(stack, wa)

    async def age_messages() -> None:
        engine = create_engine_for(settings.database_url)
        try:
            async with create_sessionmaker(engine)() as session:
                await session.execute(update(Message).values(created_at=now() - timedelta(hours=25)))
                await session.commit()
        finally:
            await engine.dispose()

    run_async(age_messages())
    url = f"/api/v1/conversations/{conversation['id']}/messages"
    refused = stack.client.post(url, headers=wa.headers, json={"text": "Запізно"})
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "outside_window"
    assert "шаблон" in refused.json()["error"]["message"]
    wa.emulator.advance_clock(25 * 3600)  # the platform's clock agrees that the window has closed
    stack.client.post(url, headers=wa.headers, json={"template": "case_update"}).raise_for_status()
    [sent] = wa.emulator.wait_for_sends(phone_number_id=PHONE_ID, to=CITIZEN, count=1)
    assert sent["type"] == "template"
