"""The citizen's whole history: contacts joined by a shared own phone number or linked by an agent,
their conversations listed across channels, every view audited, and no agency ever sees another's."""

from __future__ import annotations

import time
import uuid
from typing import Any

from sqlalchemy import select

from civdesk.audit.models import AuditEvent
from civdesk.config import Settings
from civdesk.db.session import create_engine_for, create_sessionmaker
from tests.support.stack import Stack
from tests.support.world import BOT_TOKEN, login, run_async, wait_for


def _conversations(stack: Stack, headers: dict[str, str]) -> list[dict[str, Any]]:
    return list(stack.client.get("/api/v1/conversations?limit=200", headers=headers).json()["items"])


def _by_name(stack: Stack, headers: dict[str, str], name: str) -> dict[str, Any]:
    return wait_for(
        lambda: next((c for c in _conversations(stack, headers) if c["contact_name"] == name), None), what=name
    )


def _share_own_contact(stack: Stack, chat_id: int, name: str, phone: str, update_id: int) -> None:
    """A Telegram update as the platform sends it when the citizen taps "share my phone number"."""
    person = {"id": chat_id, "is_bot": False, "first_name": name}
    update = {
        "update_id": update_id,
        "message": {
            "message_id": 1,
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private", "first_name": name},
            "from": person,
            "contact": {"phone_number": phone, "first_name": name, "user_id": chat_id},
        },
    }
    response = stack.client.post(
        stack.webhook_url(stack.world.telegram_channel_id),
        json=update,
        headers={"X-Telegram-Bot-Api-Secret-Token": stack.world.webhook_secret},
    )
    assert response.status_code == 200, response.text


def _audit(settings: Settings, action: str) -> list[AuditEvent]:
    async def read() -> list[AuditEvent]:
        engine = create_engine_for(settings.database_url)
        try:
            async with create_sessionmaker(engine)() as session:
                return list(await session.scalars(select(AuditEvent).where(AuditEvent.action == action)))
        finally:
            await engine.dispose()

    return run_async(read())


def test_the_same_own_phone_joins_two_contacts_histories(stack: Stack, settings: Settings) -> None:
    agent = login(stack.client, stack.world.agent_email)
    _share_own_contact(stack, 4600, "Ганна", "+380 50 123 45 67", 9_000_001)
    first = _by_name(stack, agent, "Ганна")
    stack.client.post(f"/api/v1/conversations/{first['id']}/resolve", headers=agent)
    # Later, from another account with the same number, written the national way.
    _share_own_contact(stack, 4601, "Ганна К.", "0501234567", 9_000_002)
    second = _by_name(stack, agent, "Ганна К.")
    history = stack.client.get(f"/api/v1/conversations/{second['id']}/history", headers=agent)
    assert history.status_code == 200, history.text
    items = history.json()["items"]
    assert [i["id"] for i in items] == [second["id"], first["id"]]
    assert items[1]["status"] == "resolved" and items[1]["channel_type"] == "telegram"
    assert items[1]["message_count"] == 1
    # Someone else's number stays apart.
    _share_own_contact(stack, 4602, "Інший", "+380671112233", 9_000_003)
    third = _by_name(stack, agent, "Інший")
    only = stack.client.get(f"/api/v1/conversations/{third['id']}/history", headers=agent).json()["items"]
    assert [i["id"] for i in only] == [third["id"]]


def test_an_agent_links_a_web_chat_visitor_to_a_telegram_citizen(stack: Stack, settings: Settings) -> None:
    agent = login(stack.client, stack.world.agent_email)
    stranger = login(stack.client, stack.world.other_agent_email)
    stack.emulator.citizen_says(token=BOT_TOKEN, chat_id=4700, text="Питання в Telegram", first_name="Степан")
    telegram = _by_name(stack, agent, "Степан")
    token = stack.client.post("/chat/minsoc/session").json()["token"]
    sent = stack.client.post(
        "/chat/minsoc/messages",
        headers={"authorization": f"Bearer {token}"},
        json={"client_msg_id": str(uuid.uuid4()), "text": "Питання на сайті", "name": "Степан Б."},
    )
    assert sent.status_code == 202
    web = _by_name(stack, agent, "Степан Б.")
    history_url = f"/api/v1/conversations/{web['id']}/history"
    assert [i["id"] for i in stack.client.get(history_url, headers=agent).json()["items"]] == [web["id"]]

    # Another agency can neither link nor read: it is told the contacts do not exist.
    link_url = f"/api/v1/contacts/{web['contact_id']}/links"
    refused = stack.client.post(link_url, headers=stranger, json={"contact_id": telegram["contact_id"]})
    assert refused.status_code == 404
    assert stack.client.get(history_url, headers=stranger).status_code == 404
    stack.emulator.citizen_says(token="4343:other-agency-bot", chat_id=4701, text="Інше відомство", first_name="Чужий")
    theirs = _by_name(stack, stranger, "Чужий")
    across = stack.client.post(link_url, headers=agent, json={"contact_id": theirs["contact_id"]})
    assert across.status_code == 404

    linked = stack.client.post(link_url, headers=agent, json={"contact_id": telegram["contact_id"]})
    assert linked.status_code == 200, linked.text
    assert sorted(linked.json()["contact_ids"]) == sorted([web["contact_id"], telegram["contact_id"]])
    again = stack.client.post(
        f"/api/v1/contacts/{telegram['contact_id']}/links", headers=agent, json={"contact_id": web["contact_id"]}
    )
    assert sorted(again.json()["contact_ids"]) == sorted(linked.json()["contact_ids"])  # idempotent
    items = stack.client.get(history_url, headers=agent).json()["items"]
    assert [(i["id"], i["channel_type"]) for i in items] == [(web["id"], "webchat"), (telegram["id"], "telegram")]
    # Reading the other channel's conversation is the ordinary, audited transcript view.
    messages = stack.client.get(f"/api/v1/conversations/{telegram['id']}/messages", headers=agent).json()["items"]
    assert [m["text"] for m in messages] == ["Питання в Telegram"]
    assert len(_audit(settings, "contact.history.view")) == 2
    links = [e.subject_id for e in _audit(settings, "contact.link")]
    assert links == [str(web["contact_id"]), str(telegram["contact_id"])]
    assert str(telegram["id"]) in [e.subject_id for e in _audit(settings, "conversation.messages.view")]
    # The other agency's citizen keeps a history of their own.
    assert [
        i["id"]
        for i in stack.client.get(f"/api/v1/conversations/{theirs['id']}/history", headers=stranger).json()["items"]
    ] == [theirs["id"]]
