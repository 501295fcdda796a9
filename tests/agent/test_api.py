"""Agent API: login, bearer tokens, agency isolation, notes, assignment, resolution, health, OpenAPI."""

from __future__ import annotations

import time

import jwt

from civdesk.config import Settings
from tests.support.stack import Stack
from tests.support.world import BOT_TOKEN, login, wait_for


def _conversation(stack: Stack, headers: dict[str, str]) -> dict:
    stack.emulator.citizen_says(token=BOT_TOKEN, chat_id=4100, text="Питання про пенсію")
    items = wait_for(
        lambda: stack.client.get("/api/v1/conversations", headers=headers).json()["items"], what="conversation"
    )
    return items[0]


def test_login_refuses_wrong_password_and_unknown_email_alike(stack: Stack) -> None:
    for email, password in ((stack.world.agent_email, "wrong password"), ("nobody@nowhere.test", "whatever1")):
        response = stack.client.post("/api/v1/auth/login", json={"email": email, "password": password})
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthorized"
    response = stack.client.post(
        "/api/v1/auth/login", json={"email": stack.world.agent_email}, headers={"accept-language": "en"}
    )
    assert response.status_code == 422 and response.json()["error"]["problems"]


def test_requests_without_or_with_a_forged_token_are_refused(stack: Stack, settings: Settings) -> None:
    assert stack.client.get("/api/v1/conversations").status_code == 401
    forged = jwt.encode(
        {"sub": "1", "agency": 1, "role": "admin", "aud": "civdesk-agent", "exp": time.time() + 60},
        "some-other-secret-key-0123456789abcdef",
        algorithm="HS256",
    )
    response = stack.client.get("/api/v1/conversations", headers={"authorization": f"Bearer {forged}"})
    assert response.status_code == 401
    expired = jwt.encode(
        {"sub": "1", "agency": 1, "role": "admin", "aud": "civdesk-agent", "exp": time.time() - 5},
        settings.secret_key,
        algorithm="HS256",
    )
    assert stack.client.get("/api/v1/me", headers={"authorization": f"Bearer {expired}"}).status_code == 401


def test_agents_see_only_their_agency(stack: Stack) -> None:
    mine = login(stack.client, stack.world.agent_email)
    conversation = _conversation(stack, mine)
    theirs = login(stack.client, stack.world.other_agent_email)
    assert stack.client.get("/api/v1/conversations", headers=theirs).json()["items"] == []
    base = f"/api/v1/conversations/{conversation['id']}"
    for method, path, body in (
        ("GET", base, None),
        ("GET", f"{base}/messages", None),
        ("POST", f"{base}/messages", {"text": "чужа відповідь"}),
        ("POST", f"{base}/notes", {"text": "чужа нотатка"}),
        ("POST", f"{base}/assign", None),
        ("POST", f"{base}/resolve", None),
    ):
        response = stack.client.request(method, path, headers=theirs, json=body)
        assert response.status_code == 404, (method, path, response.text)
    assert stack.emulator.sent(token=BOT_TOKEN) == []


def test_note_assign_filters_and_resolve(stack: Stack) -> None:
    olena = login(stack.client, stack.world.agent_email)
    taras = login(stack.client, stack.world.second_agent_email)
    conversation = _conversation(stack, olena)
    base = f"/api/v1/conversations/{conversation['id']}"

    def listed(headers: dict[str, str], **params: object) -> list[int]:
        response = stack.client.get("/api/v1/conversations", headers=headers, params=params)
        response.raise_for_status()
        return [c["id"] for c in response.json()["items"]]

    assert listed(olena, unassigned=True) == [conversation["id"]]
    assert listed(olena, mine=True) == []
    note = stack.client.post(f"{base}/notes", headers=taras, json={"text": "Уточнити стаж"})
    assert note.status_code == 201 and note.json()["direction"] == "note"
    assigned = stack.client.post(f"{base}/assign", headers=olena).json()
    assert assigned["assignee_id"] is not None
    assert listed(olena, mine=True) == [conversation["id"]]
    assert listed(taras, mine=True) == []
    assert listed(olena, unassigned=True) == []
    resolved = stack.client.post(f"{base}/resolve", headers=olena)
    assert resolved.status_code == 200 and resolved.json()["status"] == "resolved"
    assert resolved.json()["resolved_at"] is not None
    assert stack.client.post(f"{base}/resolve", headers=olena).status_code == 409
    assert listed(olena, status="resolved") == [conversation["id"]]
    assert stack.client.get("/api/v1/conversations", headers=olena, params={"status": "bogus"}).status_code == 400
    # The note never went to the citizen.
    assert stack.emulator.sent(token=BOT_TOKEN) == []
    # A new message after resolution opens a new conversation.
    stack.emulator.citizen_says(token=BOT_TOKEN, chat_id=4100, text="Ще питання")
    wait_for(lambda: len(listed(olena)) == 2, what="a new conversation")


def test_empty_or_oversized_reply_is_a_4xx(stack: Stack) -> None:
    headers = login(stack.client, stack.world.agent_email)
    conversation = _conversation(stack, headers)
    base = f"/api/v1/conversations/{conversation['id']}/messages"
    empty = stack.client.post(base, headers=headers, json={"text": ""})
    assert empty.status_code == 400 and empty.json()["error"]["code"] == "invalid_input"
    assert stack.client.post(base, headers=headers, json={"text": "я" * 4097}).status_code == 422
    assert stack.client.post(base, headers=headers, content=b"{oops").status_code == 422


def test_health_and_openapi(stack: Stack) -> None:
    assert stack.client.get("/healthz").json()["status"] == "ok"
    spec = stack.client.get("/openapi.json").json()
    for path in ("/api/v1/auth/login", "/api/v1/conversations", "/api/v1/conversations/{conversation_id}/messages"):
        assert path in spec["paths"]
    assert stack.client.get("/docs").status_code == 200


def test_channel_secrets_never_leave_through_the_openapi_schema(stack: Stack) -> None:
    spec = stack.client.get("/openapi.json").text
    assert "secrets" not in spec


async def test_reading_a_transcript_is_audited(stack: Stack, settings: Settings) -> None:
    from sqlalchemy import select

    from civdesk.audit.models import AuditEvent
    from civdesk.db.session import create_engine_for, create_sessionmaker

    headers = login(stack.client, stack.world.agent_email)
    conversation = _conversation(stack, headers)
    stack.client.get(f"/api/v1/conversations/{conversation['id']}/messages", headers=headers).raise_for_status()
    engine = create_engine_for(settings.database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            rows = list(await session.scalars(select(AuditEvent).order_by(AuditEvent.id)))
    finally:
        await engine.dispose()
    views = [r for r in rows if r.action == "conversation.messages.view"]
    assert views and views[-1].subject_id == str(conversation["id"]) and views[-1].actor_agent_id is not None
    assert any(r.action == "agent.login" for r in rows)
