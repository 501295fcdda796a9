"""The agents' websocket: live events, and a reconnect that resumes from the last event id."""

from __future__ import annotations

import json
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.support.stack import Stack
from tests.support.world import BOT_TOKEN, login


def _ws_url(stack: Stack, token: str, last_event_id: int | None = None) -> str:
    url = stack.server.url.replace("http://", "ws://") + f"/api/v1/ws?token={token}"
    return url if last_event_id is None else f"{url}&last_event_id={last_event_id}"


def _token(stack: Stack, email: str) -> str:
    return login(stack.client, email)["authorization"].split()[1]


def _next_event(ws: ClientConnection, *, types: set[str], timeout: float = 5.0) -> dict[str, Any]:
    while True:
        event = json.loads(ws.recv(timeout=timeout))
        if event.get("type") in types:
            return event


def test_event_arrives_live_and_a_reconnect_loses_nothing(stack: Stack) -> None:
    token = _token(stack, stack.world.agent_email)
    with connect(_ws_url(stack, token)) as ws:
        hello = json.loads(ws.recv(timeout=5))
        assert hello["type"] == "hello"
        stack.emulator.citizen_says(token=BOT_TOKEN, chat_id=9001, text="Перше")
        created = _next_event(ws, types={"message.created"})
        assert created["payload"]["message"]["text"] == "Перше"
        assert created["payload"]["conversation"]["contact_name"] == "Олена"
        last_seen = created["id"]

    # While the console is away, two more messages and a reply's delivery happen. The two chats' updates
    # reach the webhook in parallel, as Telegram sends them, so either may be stored first.
    stack.emulator.citizen_says(token=BOT_TOKEN, chat_id=9001, text="Друге")
    stack.emulator.citizen_says(token=BOT_TOKEN, chat_id=9002, text="Третє")
    stack.emulator.wait_until_delivered()

    with connect(_ws_url(stack, token, last_seen)) as ws:
        ids, texts = [], []
        while True:
            event = json.loads(ws.recv(timeout=5))
            if event["type"] == "replayed":
                break
            ids.append(event["id"])
            if event["type"] == "message.created":
                texts.append(event["payload"]["message"]["text"])
        assert ids == sorted(ids) and ids[0] > last_seen  # replayed in order, none seen before
        assert sorted(texts) == ["Друге", "Третє"]
        # And live again after the replay.
        stack.emulator.citizen_says(token=BOT_TOKEN, chat_id=9001, text="Четверте")
        assert _next_event(ws, types={"message.created"})["payload"]["message"]["text"] == "Четверте"


def test_delivery_status_is_pushed(stack: Stack) -> None:
    headers = login(stack.client, stack.world.agent_email)
    token = headers["authorization"].split()[1]
    with connect(_ws_url(stack, token)) as ws:
        ws.recv(timeout=5)
        stack.emulator.citizen_says(token=BOT_TOKEN, chat_id=9003, text="Питання")
        conversation_id = _next_event(ws, types={"message.created"})["payload"]["conversation"]["id"]
        stack.client.post(
            f"/api/v1/conversations/{conversation_id}/messages", headers=headers, json={"text": "Відповідь"}
        ).raise_for_status()
        status = _next_event(ws, types={"message.delivery"})
        assert status["payload"]["message"]["delivery_status"] == "delivered"


def test_other_agencies_events_never_reach_this_console(stack: Stack) -> None:
    token = _token(stack, stack.world.other_agent_email)
    with connect(_ws_url(stack, token)) as ws:
        ws.recv(timeout=5)
        stack.emulator.citizen_says(token=BOT_TOKEN, chat_id=9004, text="Для Мінсоцу")
        stack.emulator.wait_until_delivered()
        with pytest.raises(TimeoutError):
            _next_event(ws, types={"message.created", "conversation.created"}, timeout=1.0)
    with connect(_ws_url(stack, token, 0)) as ws:
        assert json.loads(ws.recv(timeout=5))["type"] == "replayed"


def test_a_bad_token_is_refused(stack: Stack) -> None:
    with connect(_ws_url(stack, "not-a-token")) as ws, pytest.raises(ConnectionClosed) as refused:
        ws.recv(timeout=5)
    assert refused.value.rcvd is not None and refused.value.rcvd.code == 4401
