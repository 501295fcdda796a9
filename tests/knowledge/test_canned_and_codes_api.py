"""Canned answers and resolution codes over the API: who may write them, search, agency isolation,
and resolving a conversation with a code."""

from __future__ import annotations

from typing import Any

from civdesk.config import Settings
from tests.knowledge.support import add_agent
from tests.support.stack import Stack
from tests.support.world import BOT_TOKEN, login, wait_for


def _conversation(stack: Stack, headers: dict[str, str], chat_id: int = 4500) -> dict[str, Any]:
    stack.emulator.citizen_says(token=BOT_TOKEN, chat_id=chat_id, text="Питання про субсидію")
    return wait_for(
        lambda: stack.client.get("/api/v1/conversations", headers=headers).json()["items"], what="conversation"
    )[0]


def test_supervisors_write_canned_answers_agents_search_them_and_other_agencies_never_see_them(
    stack: Stack, settings: Settings
) -> None:
    agent = login(stack.client, stack.world.agent_email)
    boss = login(stack.client, add_agent(settings, slug="minsoc", email="boss@minsoc.test", role="supervisor"))
    stranger = login(stack.client, stack.world.other_agent_email)
    body = {
        "title": "Строк розгляду",
        "body": "Звернення розглядається до 30 днів.",
        "legal_reference": "ст. 20 Закону № 393/96-ВР",
        "official_url": "https://zakon.rada.gov.ua/laws/show/393/96-вр",
    }
    refused = stack.client.post("/api/v1/canned-answers", headers=agent, json=body)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    created = stack.client.post("/api/v1/canned-answers", headers=boss, json=body)
    assert created.status_code == 201, created.text
    answer = created.json()
    assert answer["legal_reference"] == body["legal_reference"] and answer["topic_id"] is None
    other = stack.client.post(
        "/api/v1/canned-answers", headers=boss, json={"title": "Привітання", "body": "Добрий день!"}
    )
    assert other.status_code == 201

    def titles(headers: dict[str, str], **params: Any) -> list[str]:
        response = stack.client.get("/api/v1/canned-answers", headers=headers, params=params)
        assert response.status_code == 200, response.text
        return [a["title"] for a in response.json()["items"]]

    assert titles(agent) == ["Привітання", "Строк розгляду"]
    assert titles(agent, q="СТРОК") == ["Строк розгляду"]  # Cyrillic, any case, on SQLite too
    assert titles(agent, q="393/96") == ["Строк розгляду"]  # the legal reference is searched as well
    assert titles(agent, q="днів звернення") == ["Строк розгляду"]
    assert titles(stranger) == []
    url = f"/api/v1/canned-answers/{answer['id']}"
    for method, json in (("GET", None), ("PATCH", {"title": "чуже"}), ("DELETE", None)):
        assert stack.client.request(method, url, headers=stranger, json=json).status_code in (403, 404)
    assert stack.client.patch(url, headers=agent, json={"title": "x"}).status_code == 403
    renamed = stack.client.patch(url, headers=boss, json={"title": "Строки розгляду звернень"})
    assert renamed.status_code == 200 and renamed.json()["body"] == body["body"]
    assert stack.client.delete(url, headers=boss).status_code == 204
    assert titles(agent) == ["Привітання"]
    bad = stack.client.post("/api/v1/canned-answers", headers=boss, json={**body, "official_url": "javascript:x"})
    assert bad.status_code == 422


def test_resolving_needs_a_code_once_the_agency_keeps_them(stack: Stack, settings: Settings) -> None:
    agent = login(stack.client, stack.world.agent_email)
    admin = login(stack.client, add_agent(settings, slug="minsoc", email="admin@minsoc.test", role="admin"))
    other_admin = login(stack.client, add_agent(settings, slug="pfu", email="admin@pfu.test", role="admin"))
    conversation = _conversation(stack, agent)
    base = f"/api/v1/conversations/{conversation['id']}"

    assert stack.client.post("/api/v1/resolution-codes", headers=agent, json={"title": "Роз'яснено"}).status_code == 403
    explained = stack.client.post(
        "/api/v1/resolution-codes", headers=admin, json={"title": "Роз'яснено", "position": 1}
    )
    assert explained.status_code == 201, explained.text
    cnap = stack.client.post(
        "/api/v1/resolution-codes", headers=admin, json={"title": "Передано в ЦНАП", "position": 2}
    )
    duplicate = stack.client.post("/api/v1/resolution-codes", headers=admin, json={"title": "Роз'яснено"})
    assert duplicate.status_code == 409
    foreign = stack.client.post("/api/v1/resolution-codes", headers=other_admin, json={"title": "Чуже"}).json()
    codes = stack.client.get("/api/v1/resolution-codes", headers=agent).json()["items"]
    assert [c["title"] for c in codes] == ["Роз'яснено", "Передано в ЦНАП"]

    missing = stack.client.post(f"{base}/resolve", headers=agent)
    assert missing.status_code == 400 and missing.json()["error"]["code"] == "resolution_code_required"
    assert missing.json()["error"]["message"] == "оберіть результат звернення"
    wrong = stack.client.post(f"{base}/resolve", headers=agent, json={"resolution_code_id": foreign["id"]})
    assert wrong.status_code == 400
    archived = stack.client.patch(
        f"/api/v1/resolution-codes/{cnap.json()['id']}", headers=admin, json={"is_active": False}
    )
    assert archived.status_code == 200 and archived.json()["is_active"] is False
    assert [c["title"] for c in stack.client.get("/api/v1/resolution-codes", headers=agent).json()["items"]] == [
        "Роз'яснено"
    ]
    assert (
        stack.client.post(f"{base}/resolve", headers=agent, json={"resolution_code_id": cnap.json()["id"]}).status_code
        == 400
    )

    resolved = stack.client.post(f"{base}/resolve", headers=agent, json={"resolution_code_id": explained.json()["id"]})
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["status"] == "resolved" and resolved.json()["resolution_code"] == "Роз'яснено"
    assert stack.client.get(base, headers=agent).json()["resolution_code_id"] == explained.json()["id"]
    # Renaming a code keeps the conversation pointing at it, under its new name.
    stack.client.patch(
        f"/api/v1/resolution-codes/{explained.json()['id']}", headers=admin, json={"title": "Надано роз'яснення"}
    )
    assert stack.client.get(base, headers=agent).json()["resolution_code"] == "Надано роз'яснення"


def test_an_agency_without_codes_resolves_as_before(stack: Stack) -> None:
    agent = login(stack.client, stack.world.agent_email)
    conversation = _conversation(stack, agent, chat_id=4501)
    resolved = stack.client.post(f"/api/v1/conversations/{conversation['id']}/resolve", headers=agent)
    assert resolved.status_code == 200 and resolved.json()["resolution_code"] is None
