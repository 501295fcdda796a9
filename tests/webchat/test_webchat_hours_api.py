"""The web chat's state tells the citizen the agency's hours, when it opens if closed, and their
place in the queue with an expected wait while open."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from civdesk.config import Settings
from tests.knowledge.support import add_agent
from tests.support.stack import Stack
from tests.support.world import login, wait_for

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _state(stack: Stack, token: str | None = None, lang: str = "uk") -> dict[str, Any]:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    response = stack.client.get("/chat/minsoc/state", headers=headers, params={"lang": lang})
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_hours_opening_queue_place_and_expected_wait(stack: Stack, settings: Settings) -> None:
    client = stack.client
    admin = login(client, add_agent(settings, slug="minsoc", email="admin@minsoc.test", role="admin"))
    olena = login(client, stack.world.agent_email)

    always = _state(stack)
    assert always["open_now"] is True and always["hours"] == "цілодобово" and always["opens_at"] is None
    assert always["always_open"] is True
    assert always["queue_position"] is None and always["time_zone"] == "Europe/Kyiv"
    assert _state(stack, lang="en")["hours"] == "24/7"

    # Open only on a day three days from now, 10:00–11:00 Kyiv time: closed now, and it says when it opens.
    kyiv = datetime.now(ZoneInfo("Europe/Kyiv"))
    day = (kyiv + timedelta(days=3)).date()
    schedule = {DAYS[day.weekday()]: [["10:00", "11:00"]]}
    assert client.patch("/api/v1/routing/settings", headers=admin, json={"working_hours": schedule}).status_code == 200
    closed = wait_for(lambda: (s := _state(stack))["open_now"] is False and s, what="the new hours", timeout=8)
    assert closed["hours"] == f"{('пн', 'вт', 'ср', 'чт', 'пт', 'сб', 'нд')[day.weekday()]} 10:00–11:00"
    assert closed["opens_at_text"] == f"{day:%d.%m} 10:00" and closed["always_open"] is False
    assert datetime.fromisoformat(closed["opens_at"]) == datetime(
        day.year, day.month, day.day, 10, tzinfo=ZoneInfo("Europe/Kyiv")
    )
    assert _state(stack, lang="en")["hours"].startswith(DAYS[day.weekday()].capitalize())

    # Open again; a citizen waiting in the queue learns their place, and with an officer online the wait.
    assert client.patch("/api/v1/routing/settings", headers=admin, json={"working_hours": None}).status_code == 200
    wait_for(lambda: _state(stack)["open_now"], what="always open again", timeout=8)
    tokens = []
    for text in ("Перше питання", "Друге питання"):
        token = client.post("/chat/minsoc/session").json()["token"]
        body = {"client_msg_id": str(uuid.uuid4()), "text": text}
        sent = client.post("/chat/minsoc/messages", headers={"authorization": f"Bearer {token}"}, json=body)
        assert sent.status_code == 202, sent.text
        tokens.append(token)
        wait_for(lambda t=token: _state(stack, t)["conversation_status"], what="the conversation")  # type: ignore[misc]
    first, second = _state(stack, tokens[0]), _state(stack, tokens[1])
    assert (first["queue_position"], second["queue_position"]) == (1, 2)
    assert second["expected_wait_minutes"] is None  # nobody who could answer is online
    assert client.put("/api/v1/presence/me", headers=olena, json={"status": "online"}).status_code == 200
    waiting = _state(stack, tokens[1])
    assert waiting["queue_position"] == 2 and waiting["expected_wait_minutes"] == 20  # 2 × the default 10 min
