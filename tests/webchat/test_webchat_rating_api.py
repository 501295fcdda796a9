"""The web chat beside the transcript: whether anyone is online, and the citizen's 1–5 rating of a
resolved conversation (one per conversation, never for someone else's)."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from civdesk.config import Settings
from civdesk.db.session import create_engine_for, create_sessionmaker
from civdesk.quality.models import Rating
from tests.support.stack import Stack
from tests.support.world import login, run_async, wait_for


def _ratings(settings: Settings) -> list[tuple[int, int, str | None, str]]:
    async def read() -> list[tuple[int, int, str | None, str]]:
        engine = create_engine_for(settings.database_url)
        try:
            async with create_sessionmaker(engine)() as session:
                rows = await session.scalars(select(Rating).order_by(Rating.id))
                return [(r.conversation_id, r.score, r.comment, r.channel) for r in rows]
        finally:
            await engine.dispose()

    return run_async(read())


def test_state_tells_who_is_online_and_a_resolved_chat_is_rated_once(stack: Stack, settings: Settings) -> None:
    state = stack.client.get("/chat/minsoc/state")
    assert state.status_code == 200
    assert {key: state.json()[key] for key in ("agents_online", "conversation_status", "rating_due", "rated")} == {
        "agents_online": False,
        "conversation_status": None,
        "rating_due": False,
        "rated": None,
    }
    agent = login(stack.client, stack.world.agent_email)
    assert stack.client.put("/api/v1/presence/me", headers=agent, json={"status": "online"}).status_code == 200
    assert stack.client.get("/chat/minsoc/state").json()["agents_online"] is True

    token = stack.client.post("/chat/minsoc/session").json()["token"]
    auth = {"authorization": f"Bearer {token}"}
    sent = stack.client.post(
        "/chat/minsoc/messages", headers=auth, json={"client_msg_id": str(uuid.uuid4()), "text": "Дякую"}
    )
    assert sent.status_code == 202
    assert stack.client.get("/chat/minsoc/state", headers=auth).json()["conversation_status"] == "open"
    early = stack.client.post("/chat/minsoc/rating", headers=auth, json={"score": 5})
    assert early.status_code == 409 and early.json()["error"]["message"] == "оцінити можна лише завершену розмову"

    conversation = wait_for(
        lambda: stack.client.get("/api/v1/conversations", headers=agent).json()["items"], what="conversation"
    )[0]
    assert stack.client.post(f"/api/v1/conversations/{conversation['id']}/resolve", headers=agent).status_code == 200
    assert stack.client.get("/chat/minsoc/state", headers=auth).json()["rating_due"] is True
    assert stack.client.post("/chat/minsoc/rating", headers=auth, json={"score": 6}).status_code == 422
    assert stack.client.post("/chat/minsoc/rating", json={"score": 5}).status_code == 401
    stranger = {"authorization": f"Bearer {stack.client.post('/chat/minsoc/session').json()['token']}"}
    assert stack.client.post("/chat/minsoc/rating", headers=stranger, json={"score": 1}).status_code == 409

    rated = stack.client.post("/chat/minsoc/rating", headers=auth, json={"score": 4, "comment": " Швидко "})
    assert rated.status_code == 200, rated.text
    assert rated.json()["rating_due"] is False and rated.json()["rated"] == 4
    again = stack.client.post("/chat/minsoc/rating", headers=auth, json={"score": 5})
    assert again.status_code == 200 and again.json()["rated"] == 5
    assert _ratings(settings) == [(conversation["id"], 5, None, "webchat")]  # replaced, never counted twice


def test_the_widget_script_is_served_for_an_agency_with_a_web_chat(stack: Stack) -> None:
    response = stack.client.get("/chat/minsoc/widget.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert "civdeskWidget" in response.text
    assert stack.client.get("/chat/pfu/widget.js").status_code == 404  # no web chat there
    assert stack.client.get("/chat/nobody/widget.js").status_code == 404
