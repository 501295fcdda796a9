"""The citizen's chat page shows the agency's working hours, when it opens if closed, and the
citizen's place in the queue once they have written — axe-clean."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from civdesk.config import Settings
from tests.knowledge.support import add_agent
from tests.support.stack import Stack
from tests.support.world import login
from tests.web.chat_page import Citizen

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SHORT = ("пн", "вт", "ср", "чт", "пт", "сб", "нд")


def test_a_closed_agency_says_its_hours_when_it_opens_and_the_place_in_the_queue(
    stack: Stack, settings: Settings, citizen_in: Callable[..., Citizen]
) -> None:
    admin = login(stack.client, add_agent(settings, slug="minsoc", email="admin@minsoc.test", role="admin"))
    day = (datetime.now(ZoneInfo("Europe/Kyiv")) + timedelta(days=2)).date()
    schedule = {DAYS[day.weekday()]: [["09:00", "18:00"]]}
    assert stack.client.patch("/api/v1/routing/settings", headers=admin, json={"working_hours": schedule}).is_success

    citizen = citizen_in()
    page = citizen.open()
    hours = page.locator("#hours")
    expect(hours).to_have_text(
        f"Зараз неробочий час. Працівники відповідатимуть після відкриття: {day:%d.%m} 09:00. "
        f"Графік роботи: {SHORT[day.weekday()]} 09:00–18:00 (час за Europe/Kyiv)."
    )
    expect(page.locator("#availability")).to_be_hidden()  # the hours already say when someone answers
    expect(page.locator("#queue")).to_be_hidden()

    citizen.send("Як подати заяву на субсидію?")
    queue = page.get_by_role("status").filter(has_text="черзі")
    expect(queue).to_have_text("Ви в черзі: 1-й. Ваше питання збережено до відкриття.")
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()

    # Open again, with an officer online: the place in the queue comes with an expected wait.
    assert stack.client.patch("/api/v1/routing/settings", headers=admin, json={"working_hours": None}).is_success
    agent = login(stack.client, stack.world.agent_email)
    assert stack.client.put("/api/v1/presence/me", headers=agent, json={"status": "online"}).is_success
    page.reload()
    expect(hours).to_have_text("Працюємо цілодобово.")
    expect(queue).to_have_text("Ви в черзі: 1-й. Орієнтовне очікування — близько 10 хв.")
