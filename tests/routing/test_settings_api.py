"""What the console's settings panel relies on, over real HTTP: every refusal names the field it is about
(validation problems and the services' own errors alike) in the caller's language; a null for a setting
every agency must have is refused, not a server error; and admins can list the agencies that could be
transfer partners."""

from __future__ import annotations

from typing import Any

import httpx

from civdesk.config import Settings
from tests.knowledge.support import add_agent
from tests.support.stack import Stack
from tests.support.world import login

SETTINGS = "/api/v1/routing/settings"


def _refused(client: httpx.Client, method: str, path: str, headers: dict[str, str], body: Any, status: int) -> Any:
    response = client.request(method, path, headers=headers, json=body)
    assert response.status_code == status, response.text
    return response.json()["error"]


def test_refusals_name_their_fields_in_the_callers_language(stack: Stack, settings: Settings) -> None:
    client = stack.client
    admin = login(client, add_agent(settings, slug="minsoc", email="admin@minsoc.test", role="admin"))
    english = {**admin, "accept-language": "en"}

    error = _refused(client, "PATCH", SETTINGS, admin, {"reassign_after_seconds": 5}, 422)
    assert error["problems"] == [
        {
            "field": "body.reassign_after_seconds",
            "type": "greater_than_equal",
            "message": "Має бути щонайменше 10.",
            "message_en": "Input should be greater than or equal to 10",
        }
    ]
    error = _refused(client, "PATCH", SETTINGS, english, {"default_strategy": "random"}, 422)
    assert error["message"] == "invalid request"
    assert error["problems"][0]["field"] == "body.default_strategy"
    assert error["problems"][0]["message"].startswith("Input should be 'balanced'")

    # The services' own refusals carry the same problems, so a form shows them beside the field too.
    error = _refused(client, "PATCH", SETTINGS, admin, {"time_zone": "Europe/Atlantis"}, 400)
    assert error["problems"] == [
        {
            "field": "body.time_zone",
            "message": "невідомий часовий пояс 'Europe/Atlantis'",
            "message_en": "unknown time zone 'Europe/Atlantis'",
        }
    ]
    error = _refused(client, "PATCH", SETTINGS, english, {"working_hours": {"mon": [["8", "17:00"]]}}, 400)
    assert [p["field"] for p in error["problems"]] == ["body.working_hours"]
    assert error["problems"][0]["message"] == "mon: '8' is not a time like 08:00"
    error = _refused(client, "PATCH", SETTINGS, admin, {"accepts_transfers_from": ["nobody"]}, 404)
    assert error["problems"][0]["field"] == "body.accepts_transfers_from"
    error = _refused(client, "PATCH", SETTINGS, admin, {"languages": ["ukrainian"]}, 400)
    assert error["problems"][0]["field"] == "body.languages"

    # A null for a setting every agency has is refused (it used to reach the database and fail there).
    for field in ("reassign_after_seconds", "triage_enabled", "default_strategy"):
        error = _refused(client, "PATCH", SETTINGS, admin, {field: None}, 400)
        assert error["problems"] == [
            {"field": f"body.{field}", "message": "значення обов’язкове", "message_en": f"{field} needs a value"}
        ]
    topic = client.get("/api/v1/topics", headers=admin).json()[0]
    error = _refused(client, "PATCH", f"/api/v1/topics/{topic['id']}", admin, {"priority": None}, 400)
    assert error["problems"][0]["field"] == "body.priority"

    error = _refused(client, "POST", "/api/v1/topics", admin, {"slug": "Пенсії", "name": "Пенсії"}, 400)
    assert error["problems"][0]["field"] == "body.slug"
    error = _refused(client, "POST", "/api/v1/topics", admin, {"slug": "subsidies", "name": "Ще субсидії"}, 409)
    assert error["problems"][0]["field"] == "body.slug"
    error = _refused(client, "POST", "/api/v1/topics", admin, {"slug": "x", "name": ""}, 422)
    assert error["problems"][0]["message"] == "Не може бути порожнім."

    holiday = {"day": "2031-08-24", "name": "День Незалежності"}
    assert client.post("/api/v1/routing/holidays", headers=admin, json=holiday).status_code == 201
    error = _refused(client, "POST", "/api/v1/routing/holidays", admin, holiday, 409)
    assert error["problems"] == [
        {"field": "body.day", "message": "2031-08-24 вже вихідний", "message_en": "2031-08-24 is already a holiday"}
    ]
    assert client.get(SETTINGS, headers=admin).json()["reassign_after_seconds"] == 300  # nothing was changed


def test_admins_list_the_agencies_that_could_be_transfer_partners(stack: Stack, settings: Settings) -> None:
    client = stack.client
    admin = login(client, add_agent(settings, slug="minsoc", email="admin@minsoc.test", role="admin"))
    boss = login(client, add_agent(settings, slug="minsoc", email="boss@minsoc.test", role="supervisor"))
    url = "/api/v1/routing/partner-agencies"
    response = client.get(url, headers=admin)
    assert response.status_code == 200, response.text
    assert response.json() == [{"slug": "pfu", "name": "Пенсійний фонд України"}]  # never its own agency
    assert client.get(url, headers=boss).status_code == 403
    assert client.get(url, headers=login(client, stack.world.agent_email)).status_code == 403
