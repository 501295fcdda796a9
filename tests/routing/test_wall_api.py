"""The console's routing reads over real HTTP: transfer destinations, the supervisor's roster and the
conversations at risk of missing a response target — each within the caller's agency only."""

from __future__ import annotations

from typing import Any

import httpx

from civdesk.config import Settings
from tests.knowledge.support import add_agent
from tests.support.stack import Stack
from tests.support.world import BOT_TOKEN, login, wait_for


def _get(client: httpx.Client, path: str, headers: dict[str, str], status: int = 200) -> Any:
    response = client.get(path, headers=headers)
    assert response.status_code == status, response.text
    return response.json()


def test_transfer_targets_roster_and_at_risk_stay_within_the_agency(stack: Stack, settings: Settings) -> None:
    client = stack.client
    minsoc_admin = login(client, add_agent(settings, slug="minsoc", email="admin@minsoc.test", role="admin"))
    pfu_admin = login(client, add_agent(settings, slug="pfu", email="admin@pfu.test", role="admin"))
    pfu_supervisor = login(client, add_agent(settings, slug="pfu", email="boss@pfu.test", role="supervisor"))
    olena = login(client, stack.world.agent_email)
    petro = login(client, stack.world.other_agent_email)
    settings_url = "/api/v1/routing/settings"
    assert client.patch(settings_url, headers=minsoc_admin, json={"first_response_seconds": 600}).status_code == 200
    assert client.patch(settings_url, headers=pfu_admin, json={"accepts_transfers_from": ["minsoc"]}).status_code == 200
    assert client.put("/api/v1/presence/me", headers=olena, json={"status": "online"}).status_code == 200

    # Anyone may read where a conversation can go: my colleagues, my topics, agencies that accept mine.
    targets = _get(client, "/api/v1/routing/transfer-targets", olena)
    names = [a["name"] for a in targets["agents"]]
    assert "Тарас" in names and "Олена" not in names and "Петро" not in names
    assert [t["name"] for t in targets["topics"]] == ["Субсидії"]
    assert targets["agencies"] == [{"slug": "pfu", "name": "Пенсійний фонд України"}]
    assert _get(client, "/api/v1/routing/transfer-targets", petro)["agencies"] == []  # minsoc accepts none

    stack.emulator.citizen_says(token=BOT_TOKEN, chat_id=7001, text="Коли прийде субсидія?", first_name="Ірина")
    conversation = wait_for(
        lambda: next(iter(_get(client, "/api/v1/conversations?status=open", olena)["items"]), None),
        what="the citizen's conversation",
    )

    # The roster: my agency's agents with region, presence and load; supervisors only.
    roster = _get(client, "/api/v1/routing/roster", minsoc_admin)
    by_name = {row["name"]: row for row in roster}
    assert {"Олена", "Тарас", "admin@minsoc.test"} == set(by_name)
    assert by_name["Олена"]["status"] == "online" and by_name["Олена"]["capacity"] >= 1
    assert by_name["Олена"]["open_count"] == 0
    assert {row["name"] for row in _get(client, "/api/v1/routing/roster", pfu_supervisor)} == {
        "Петро", "admin@pfu.test", "boss@pfu.test"
    }
    _get(client, "/api/v1/routing/roster", olena, status=403)

    # At risk: the first response is due within 10 minutes; a 5-minute horizon does not reach it yet.
    risky = _get(client, "/api/v1/routing/at-risk?within_minutes=15", minsoc_admin)
    assert [(r["conversation_id"], r["target"], r["breached"]) for r in risky] == [
        (conversation["id"], "first_response", False)
    ]
    assert 0 < risky[0]["seconds_left"] <= 600 and risky[0]["contact_name"] == "Ірина"
    assert _get(client, "/api/v1/routing/at-risk?within_minutes=5", minsoc_admin) == []
    assert _get(client, "/api/v1/routing/at-risk?within_minutes=15", pfu_supervisor) == []  # never another's
    _get(client, "/api/v1/routing/at-risk", olena, status=403)
    _get(client, "/api/v1/routing/at-risk?within_minutes=-1", minsoc_admin, status=422)

    # Transferred to pfu, it leaves minsoc's wall; without a note it does not move at all.
    url = f"/api/v1/conversations/{conversation['id']}/transfer"
    refused = client.post(url, headers=olena, json={"to_agency": "pfu", "note": "  "})
    assert refused.status_code == 400 and "примітки" in refused.json()["error"]["message"]
    moved = client.post(url, headers=olena, json={"to_agency": "pfu", "note": "питання про пенсію"})
    assert moved.status_code == 200, moved.text
    assert _get(client, "/api/v1/routing/at-risk?within_minutes=15", minsoc_admin) == []
    assert _get(client, "/api/v1/routing/queues", minsoc_admin) == []
    assert [q["waiting"] for q in _get(client, "/api/v1/routing/queues", pfu_supervisor)] == [1]
