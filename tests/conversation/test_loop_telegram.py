"""The conversation loop end to end: sandbox Telegram → webhook → agent API → reply → sendMessage."""

from __future__ import annotations

import json

import psycopg
import pytest
from sqlalchemy.engine import make_url

from tests.support.stack import Stack
from tests.support.world import BOT_TOKEN, login, wait_for

CHAT = 700100


def _conversations(stack: Stack, headers: dict[str, str], **params: object) -> list[dict]:
    response = stack.client.get("/api/v1/conversations", headers=headers, params=params)
    response.raise_for_status()
    return response.json()["items"]


def _messages(stack: Stack, headers: dict[str, str], conversation_id: int) -> list[dict]:
    response = stack.client.get(f"/api/v1/conversations/{conversation_id}/messages", headers=headers)
    response.raise_for_status()
    return response.json()["items"]


def test_citizen_question_reaches_agent_and_reply_reaches_citizen(stack: Stack) -> None:
    headers = login(stack.client, stack.world.agent_email)
    stack.emulator.citizen_says(token=BOT_TOKEN, chat_id=CHAT, text="Як оформити субсидію?", first_name="Марія")

    conversation = wait_for(lambda: _conversations(stack, headers), what="the conversation")[0]
    assert conversation["contact_name"] == "Марія"
    assert conversation["channel_type"] == "telegram"
    assert conversation["status"] == "open" and conversation["assignee_id"] is None
    [inbound] = _messages(stack, headers, conversation["id"])
    assert inbound["direction"] == "in" and inbound["text"] == "Як оформити субсидію?"

    reply = stack.client.post(
        f"/api/v1/conversations/{conversation['id']}/messages",
        headers=headers,
        json={"text": "Добрий день! Подайте заяву через Дію."},
    )
    assert reply.status_code == 202, reply.text
    assert reply.json()["delivery_status"] == "queued"

    [sent] = stack.emulator.wait_for_sends(token=BOT_TOKEN, chat_id=CHAT, count=1)
    assert sent["text"] == "Добрий день! Подайте заяву через Дію."
    delivered = wait_for(
        lambda: [m for m in _messages(stack, headers, conversation["id"]) if m["delivery_status"] == "delivered"],
        what="delivered status",
    )
    assert delivered[0]["direction"] == "out"
    conversation = stack.client.get(f"/api/v1/conversations/{conversation['id']}", headers=headers).json()
    assert conversation["first_response_at"] is not None
    assert conversation["assignee_id"] is not None  # the agent who answered owns it

    # The citizen writes again: same conversation, one more message.
    stack.emulator.citizen_says(token=BOT_TOKEN, chat_id=CHAT, text="Дякую!", first_name="Марія")
    wait_for(lambda: len(_messages(stack, headers, conversation["id"])) == 3, what="the follow-up")
    assert len(_conversations(stack, headers)) == 1


def test_wrong_secret_is_refused_and_nothing_is_stored(stack: Stack) -> None:
    update = {
        "update_id": 1,
        "message": {
            "message_id": 1,
            "date": 1700000000,
            "text": "hi",
            "chat": {"id": 5, "type": "private"},
            "from": {"id": 5, "is_bot": False, "first_name": "A"},
        },
    }
    url = f"/webhooks/telegram/{stack.world.telegram_channel_id}"
    for headers in ({"X-Telegram-Bot-Api-Secret-Token": "wrong"}, {}):
        response = stack.client.post(url, json=update, headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthorized"
    agent = login(stack.client, stack.world.agent_email)
    assert _conversations(stack, agent) == []


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "not JSON"),
        (b"[]", "update_id"),
        (json.dumps({"update_id": 3, "message": {"message_id": "x"}}).encode(), "invalid Update"),
    ],
)
def test_malformed_body_gets_400_with_reason(stack: Stack, body: bytes, reason: str) -> None:
    response = stack.client.post(
        f"/webhooks/telegram/{stack.world.telegram_channel_id}",
        content=body,
        headers={"X-Telegram-Bot-Api-Secret-Token": stack.world.webhook_secret, "content-type": "application/json"},
    )
    assert response.status_code == 400
    assert reason in response.json()["error"]["message_en"]


def test_unknown_channel_is_404_not_500(stack: Stack) -> None:
    response = stack.client.post("/webhooks/telegram/99999", json={"update_id": 1})
    assert response.status_code == 404


def test_redelivered_update_is_stored_once(stack: Stack) -> None:
    stack.emulator.duplicate_next_push(token=BOT_TOKEN, times=1)
    update = stack.emulator.citizen_says(token=BOT_TOKEN, chat_id=CHAT, text="Один раз")
    stack.emulator.wait_until_delivered()
    # And once more by hand, as a platform retrying after a timeout would.
    response = stack.client.post(
        f"/webhooks/telegram/{stack.world.telegram_channel_id}",
        json=update,
        headers={"X-Telegram-Bot-Api-Secret-Token": stack.world.webhook_secret},
    )
    assert response.status_code == 200 and response.json()["duplicates"] == 1
    agent = login(stack.client, stack.world.agent_email)
    [conversation] = _conversations(stack, agent)
    assert [m["text"] for m in _messages(stack, agent, conversation["id"])] == ["Один раз"]


def test_unhandled_update_type_answers_200_and_stores_nothing(stack: Stack) -> None:
    update = {
        "update_id": 77,
        "edited_message": {
            "message_id": 1,
            "date": 1700000000,
            "edit_date": 1700000001,
            "text": "edited",
            "chat": {"id": 5, "type": "private"},
            "from": {"id": 5, "is_bot": False, "first_name": "A"},
        },
    }
    response = stack.client.post(
        f"/webhooks/telegram/{stack.world.telegram_channel_id}",
        json=update,
        headers={"X-Telegram-Bot-Api-Secret-Token": stack.world.webhook_secret},
    )
    assert response.status_code == 200
    assert "edited_message" in response.json()["ignored"]


def test_429_is_honoured_then_delivered(stack: Stack) -> None:
    headers = login(stack.client, stack.world.agent_email)
    stack.emulator.citizen_says(token=BOT_TOKEN, chat_id=CHAT, text="Питання")
    conversation = wait_for(lambda: _conversations(stack, headers), what="the conversation")[0]
    stack.emulator.fail_next(
        token=BOT_TOKEN, method="sendMessage", status=429, description="Too Many Requests: retry after 1", retry_after=1
    )
    stack.client.post(
        f"/api/v1/conversations/{conversation['id']}/messages", headers=headers, json={"text": "Відповідь"}
    ).raise_for_status()
    # While the platform asks us to wait, the agent sees why the message is still queued.
    waiting = wait_for(
        lambda: [
            m for m in _messages(stack, headers, conversation["id"]) if m["direction"] == "out" and m["delivery_error"]
        ],
        what="the 429 note",
    )
    assert waiting[0]["delivery_status"] == "queued"
    assert "retry after" in waiting[0]["delivery_error"]
    [sent] = stack.emulator.wait_for_sends(token=BOT_TOKEN, chat_id=CHAT, count=1, timeout=6)
    assert sent["text"] == "Відповідь"
    wait_for(
        lambda: [m for m in _messages(stack, headers, conversation["id"]) if m["delivery_status"] == "delivered"],
        what="delivered after retry",
    )


def test_blocked_bot_marks_reply_failed_with_reason(stack: Stack) -> None:
    headers = login(stack.client, stack.world.agent_email)
    stack.emulator.citizen_says(token=BOT_TOKEN, chat_id=CHAT, text="Питання")
    conversation = wait_for(lambda: _conversations(stack, headers), what="the conversation")[0]
    stack.emulator.fail_next(
        token=BOT_TOKEN, method="sendMessage", status=403, description="Forbidden: bot was blocked by the user"
    )
    stack.client.post(
        f"/api/v1/conversations/{conversation['id']}/messages", headers=headers, json={"text": "Відповідь"}
    ).raise_for_status()
    failed = wait_for(
        lambda: [m for m in _messages(stack, headers, conversation["id"]) if m["delivery_status"] == "failed"],
        what="the failure",
    )
    assert failed[0]["delivery_error"] == "Forbidden: bot was blocked by the user"
    assert stack.emulator.sent(token=BOT_TOKEN, chat_id=CHAT) == []
    # Later replies fail at once, without calling Telegram again.
    stack.client.post(
        f"/api/v1/conversations/{conversation['id']}/messages", headers=headers, json={"text": "Ще одна"}
    ).raise_for_status()
    wait_for(
        lambda: (
            len([m for m in _messages(stack, headers, conversation["id"]) if m["delivery_status"] == "failed"]) == 2
        ),
        what="the second failure",
    )


def test_citizen_blocking_and_unblocking_is_recorded(stack: Stack) -> None:
    headers = login(stack.client, stack.world.agent_email)
    stack.emulator.citizen_says(token=BOT_TOKEN, chat_id=CHAT, text="Питання")
    conversation = wait_for(lambda: _conversations(stack, headers), what="the conversation")[0]
    stack.emulator.citizen_blocks_bot(token=BOT_TOKEN, chat_id=CHAT)
    stack.emulator.wait_until_delivered()
    stack.client.post(
        f"/api/v1/conversations/{conversation['id']}/messages", headers=headers, json={"text": "Відповідь"}
    ).raise_for_status()
    failed = wait_for(
        lambda: [m for m in _messages(stack, headers, conversation["id"]) if m["delivery_status"] == "failed"],
        what="the failure",
    )
    assert "blocked" in failed[0]["delivery_error"]
    blocked = stack.client.get(f"/api/v1/conversations/{conversation['id']}", headers=headers).json()
    assert blocked["citizen_blocked"] is True  # the agent sees why before writing again
    stack.emulator.citizen_unblocks_bot(token=BOT_TOKEN, chat_id=CHAT)
    stack.emulator.wait_until_delivered()
    unblocked = stack.client.get(f"/api/v1/conversations/{conversation['id']}", headers=headers).json()
    assert unblocked["citizen_blocked"] is False
    stack.client.post(
        f"/api/v1/conversations/{conversation['id']}/messages", headers=headers, json={"text": "Тепер дійде"}
    ).raise_for_status()
    [sent] = stack.emulator.wait_for_sends(token=BOT_TOKEN, chat_id=CHAT, count=1)
    assert sent["text"] == "Тепер дійде"


def test_the_generic_webhook_url_never_accepts_web_chat_bodies(stack: Stack) -> None:
    body = {"session_id": "s" * 32, "client_msg_id": "c" * 16, "text": "підроблене"}
    response = stack.client.post(f"/webhooks/webchat/{stack.world.webchat_channel_id}", json=body)
    assert response.status_code == 401


def test_webhook_survives_connections_the_server_dropped(stack: Stack, database_url: str) -> None:
    """PostgreSQL engines have no pre-ping (a round trip per webhook): a pooled connection the server
    closed fails one attempt, and the webhook path retries it once on a fresh connection."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has no server to drop connections")
    url = f"/webhooks/telegram/{stack.world.telegram_channel_id}"
    headers = {"X-Telegram-Bot-Api-Secret-Token": stack.world.webhook_secret}

    def update(update_id: int, text: str) -> dict[str, object]:
        chat = {"id": CHAT, "type": "private"}
        sender = {"id": CHAT, "is_bot": False, "first_name": "Марія"}
        message = {"message_id": update_id, "date": 1700000000, "text": text, "chat": chat, "from": sender}
        return {"update_id": update_id, "message": message}

    assert stack.client.post(url, json=update(1, "перше"), headers=headers).status_code == 200
    parsed = make_url(database_url)
    admin_url = parsed.set(database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (parsed.database,),
        )
    response = stack.client.post(url, json=update(2, "після обриву"), headers=headers)
    assert response.status_code == 200 and response.json()["stored"] == 1
    agent = login(stack.client, stack.world.agent_email)
    [conversation] = _conversations(stack, agent)
    assert [m["text"] for m in _messages(stack, agent, conversation["id"])][-1] == "після обриву"
