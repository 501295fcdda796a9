"""An agent's "unassigned" view holds the topics they are skilled in and the general queue; an agent
with no skills set up (an agency without routing) sees every unassigned conversation."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import expect

from civdesk.config import Settings
from tests.console.console_page import Console
from tests.knowledge.support import add_agent
from tests.support.stack import Stack
from tests.support.world import BOT_TOKEN, login

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]


def test_unassigned_shows_an_agents_own_topics(
    stack: Stack, settings: Settings, console: Callable[..., Console]
) -> None:
    admin = login(stack.client, add_agent(settings, slug="minsoc", email="admin@minsoc.test", role="admin"))
    topics = {t["slug"]: t["id"] for t in stack.client.get("/api/v1/topics", headers=admin).json()}
    assert stack.client.patch(f"/api/v1/topics/{topics['subsidies']}", headers=admin,
                              json={"keywords": ["субсид"]}).status_code == 200
    pensions = stack.client.post("/api/v1/topics", headers=admin,
                                 json={"slug": "pensions", "name": "Пенсії", "keywords": ["пенсі"]})
    assert pensions.status_code == 201, pensions.text
    olena = stack.client.get("/api/v1/me", headers=login(stack.client, stack.world.agent_email)).json()["id"]
    skills = stack.client.put(f"/api/v1/agents/{olena}/skills", headers=admin,
                              json={"topics": [{"topic_id": topics["subsidies"], "level": 4}]})
    assert skills.status_code == 200, skills.text

    stack.emulator.citizen_says(token=BOT_TOKEN, chat_id=9701, text="Як оформити субсидію?", first_name="Ганна")
    stack.emulator.citizen_says(token=BOT_TOKEN, chat_id=9702, text="Коли прийде пенсія?", first_name="Степан")
    stack.emulator.citizen_says(token=BOT_TOKEN, chat_id=9703, text="Добрий день", first_name="Ірина")

    skilled = console()
    skilled.login(stack.world.agent_email)
    skilled.view("unassigned").click()
    expect(skilled.item("Ганна")).to_have_count(1)
    expect(skilled.item("Ірина")).to_have_count(1)  # the general queue: no topic yet
    expect(skilled.item("Степан")).to_have_count(0)  # pensions are not Olena's
    skilled.view("all").click()
    expect(skilled.item("Степан")).to_have_count(1)

    unskilled = console()
    unskilled.login(stack.world.second_agent_email)
    unskilled.view("unassigned").click()
    expect(unskilled.items()).to_have_count(3)
