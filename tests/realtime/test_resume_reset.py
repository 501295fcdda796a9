"""A cursor the server cannot replay from gets "reset" (reload your lists), never a silent gap."""

from __future__ import annotations

import json

import pytest
from websockets.sync.client import connect

from civdesk.realtime import routes as realtime_routes
from tests.support.stack import Stack
from tests.support.world import BOT_TOKEN, login


def _first(stack: Stack, token: str, cursor: int) -> dict:
    url = stack.server.url.replace("http://", "ws://") + f"/api/v1/ws?token={token}&last_event_id={cursor}"
    with connect(url) as ws:
        while True:
            message = json.loads(ws.recv(timeout=5))
            if message["type"] in {"replayed", "reset"}:
                return message


def test_a_cursor_ahead_of_the_log_or_too_far_behind_it_gets_a_reset(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = login(stack.client, stack.world.agent_email)["authorization"].split()[1]
    for chat_id in (9101, 9102, 9103):
        stack.emulator.citizen_says(token=BOT_TOKEN, chat_id=chat_id, text="Питання")
    stack.emulator.wait_until_delivered()
    replayed = _first(stack, token, 0)
    latest = replayed["last_event_id"]
    assert replayed["type"] == "replayed" and latest > 0

    assert _first(stack, token, latest + 1000) == {"type": "reset", "last_event_id": latest}
    monkeypatch.setattr(realtime_routes, "MAX_REPLAY", 2)
    assert _first(stack, token, 0) == {"type": "reset", "last_event_id": latest}
    assert _first(stack, token, latest - 2)["type"] == "replayed"
