"""The administrator's settings in the console, in a real browser: routing, working hours (with a night
shift), transfer partners, holidays, topics and agents' skills are changed by keyboard and mouse, and
each change is read back through the API; the server's refusals show beside the fields they name;
agents and supervisors have no settings, and a token without the admin role gets a clear "no access"."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import update

from civdesk.agent.models import Agent
from civdesk.config import Settings
from civdesk.db.session import create_engine_for, create_sessionmaker
from tests.console.console_page import Console
from tests.knowledge.support import add_agent
from tests.support.stack import Stack
from tests.support.world import login, run_async

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
ADMIN = "admin@minsoc.test"


def _api(stack: Stack, headers: dict[str, str], path: str) -> Any:
    response = stack.client.get(path, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def _open_settings(page: Page) -> None:
    page.locator("#inbox-heading").focus()
    page.keyboard.press("s")
    expect(page.get_by_role("region", name="Налаштування маршрутизації")).to_be_visible()
    expect(page.locator("#settings-body")).to_be_visible()


def _field_error(page: Page, field_id: str) -> Any:
    return page.locator(f"#{field_id}-error")


def test_an_admin_sets_routing_hours_and_partners_and_sees_the_servers_refusals(
    stack: Stack, settings: Settings, console: Callable[..., Console]
) -> None:
    headers = login(stack.client, add_agent(settings, slug="minsoc", email=ADMIN, role="admin"))
    tab = console()
    page = tab.login(ADMIN)
    _open_settings(page)
    expect(page.locator("#settings-open")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#settings-agency-name")).to_have_text("Міністерство соціальної політики")
    form = page.locator("#settings-agency")
    expect(form.get_by_label("Вручну")).to_be_checked()  # a new agency starts with manual pull
    expect(page.get_by_label("Цілодобово, без вихідних днів тижня")).to_be_checked()

    form.get_by_label("Збалансовано").check()
    form.get_by_label("Бот пропонує теми в месенджері").check()
    form.get_by_label("Мови").fill("uk, en")
    form.get_by_label("Пенсійний фонд України").check()

    # Working hours: from "always open" to an office week, Monday copied to the other weekdays, and a
    # Saturday night shift that runs into Sunday.
    page.get_by_label("Цілодобово, без вихідних днів тижня").uncheck()
    expect(page.locator("#hours-mon-0-start")).to_have_value("09:00")
    page.locator("#hours-mon-0-start").fill("08:00")
    page.locator("#hours-mon-0-end").fill("17:00")
    page.get_by_role("button", name="Скопіювати години понеділка на вівторок–п’ятницю").click()
    expect(page.locator("#announce")).to_have_text("Години понеділка скопійовано на вівторок–п’ятницю.")
    expect(page.locator("#hours-fri-0-end")).to_have_value("17:00")
    page.locator("#hours-sat-add").click()
    expect(page.locator("#hours-sat-0-start")).to_be_focused()
    page.locator("#hours-sat-0-start").fill("22:00")
    page.locator("#hours-sat-0-end").fill("06:00")
    expect(page.locator("#hours-sat-0-night")).to_have_text("до наступного дня")
    expect(page.get_by_label("Субота, проміжок 1, до")).to_have_accessible_description("до наступного дня")

    # The server's own refusals, beside the fields they name: a 422 from validation, a 400 from the service.
    reassign = form.get_by_label("Передати іншому, якщо немає відповіді (секунд)")
    reassign.fill("5")
    form.get_by_role("button", name="Зберегти налаштування").click()
    expect(_field_error(page, "settings-reassign_after_seconds")).to_have_text("Має бути щонайменше 10.")
    expect(reassign).to_have_attribute("aria-invalid", "true")
    expect(reassign).to_be_focused()
    expect(page.locator("#settings-agency-status")).to_have_text("Не збережено: виправте позначені поля.")
    reassign.fill("120")
    expect(page.locator("[data-human-for=settings-reassign_after_seconds]")).to_have_text("= 2 хв")
    zone = form.get_by_label("Часовий пояс")
    zone.fill("Europe/Atlantis")
    form.get_by_role("button", name="Зберегти налаштування").click()
    expect(_field_error(page, "settings-time_zone")).to_have_text("невідомий часовий пояс 'Europe/Atlantis'")
    expect(zone).to_be_focused()
    expect(reassign).not_to_have_attribute("aria-invalid", "true")
    assert _api(stack, headers, "/api/v1/routing/settings")["reassign_after_seconds"] == 300  # nothing was saved
    zone.fill("Europe/Kyiv")
    form.get_by_role("button", name="Зберегти налаштування").click()
    expect(page.locator("#settings-agency-status")).to_contain_text("Збережено о")
    expect(_field_error(page, "settings-time_zone")).to_be_hidden()

    saved = _api(stack, headers, "/api/v1/routing/settings")
    workday = [["08:00", "17:00"]]
    assert saved["working_hours"] == {
        "mon": workday,
        "tue": workday,
        "wed": workday,
        "thu": workday,
        "fri": workday,
        "sat": [["22:00", "06:00"]],
    }
    assert saved["default_strategy"] == "balanced" and saved["triage_enabled"] is True
    assert saved["reassign_after_seconds"] == 120 and saved["languages"] == ["uk", "en"]
    assert saved["accepts_transfers_from"] == ["pfu"] and saved["queue_notices"] is False

    # Saving again with nothing changed sends nothing; Esc closes and focus returns to the button.
    form.get_by_role("button", name="Зберегти налаштування").click()
    expect(page.locator("#settings-agency-status")).to_have_text("Змін немає — зберігати нічого.")
    page.keyboard.press("Escape")
    expect(page.locator("#settings")).to_be_hidden()
    expect(page.locator("#settings-open")).to_be_focused()
    expect(page.locator("#settings-open")).to_have_attribute("aria-pressed", "false")


def test_an_admin_manages_holidays_topics_and_skills(
    stack: Stack, settings: Settings, console: Callable[..., Console]
) -> None:
    headers = login(stack.client, add_agent(settings, slug="minsoc", email=ADMIN, role="admin"))
    assert stack.client.patch("/api/v1/routing/settings", headers=headers, json={"languages": ["uk", "en"]}).is_success
    olena_id = _api(stack, login(stack.client, stack.world.agent_email), "/api/v1/me")["id"]
    tab = console(viewport={"width": 1280, "height": 900})
    page = tab.login(ADMIN)
    page.locator("#settings-open").click()
    expect(page.locator("#settings-body")).to_be_visible()

    # Holidays: add two, a duplicate is refused beside the date, remove one.
    holidays = page.locator("#settings-holidays")
    expect(holidays).to_have_text("Вихідних днів не додано.")
    page.get_by_label("Дата", exact=True).fill("2031-08-24")
    page.get_by_label("Назва (необов’язково)").fill("День Незалежності")
    page.get_by_role("button", name="Додати вихідний").click()
    expect(holidays.locator("li")).to_have_count(1)
    expect(holidays).to_contain_text("День Незалежності")
    expect(page.get_by_label("Дата", exact=True)).to_be_focused()
    expect(page.get_by_label("Дата", exact=True)).to_have_value("")
    page.get_by_label("Дата", exact=True).fill("2031-01-01")
    page.get_by_role("button", name="Додати вихідний").click()
    expect(holidays.locator("li")).to_have_count(2)
    expect(holidays.locator("li time").first).to_have_attribute("datetime", "2031-01-01")  # sorted by date
    page.get_by_label("Дата", exact=True).fill("2031-08-24")
    page.get_by_role("button", name="Додати вихідний").click()
    expect(_field_error(page, "settings-holiday-day")).to_have_text("2031-08-24 вже вихідний")
    expect(page.get_by_label("Дата", exact=True)).to_have_attribute("aria-invalid", "true")
    holidays.locator("button[data-day='2031-01-01']").click()
    expect(holidays.locator("li")).to_have_count(1)
    expect(holidays.locator("button[data-day='2031-08-24']")).to_be_focused()
    expect(page.locator("#settings-holidays-status")).to_contain_text("видалено")
    assert _api(stack, headers, "/api/v1/routing/settings")["holidays"] == [
        {"day": "2031-08-24", "name": "День Незалежності"}
    ]

    # Topics: a new one (a bad identifier is refused beside it first), and an edit of the existing one.
    page.get_by_role("button", name="Нова тема").click()
    editor = page.locator("#settings-topic")
    expect(editor.get_by_label("Ідентифікатор")).to_be_focused()
    editor.get_by_label("Ідентифікатор").fill("Пенсії")
    editor.get_by_label("Назва", exact=True).fill("Пенсії")
    editor.get_by_label("Назва мовою: англійська (en)").fill("Pensions")
    editor.get_by_label("Ключові слова").fill("пенсі, перерахун")
    editor.get_by_label("Розподіл розмов").select_option("round_robin")
    editor.get_by_label("Перша відповідь (секунд)").fill("300")
    editor.get_by_role("button", name="Зберегти тему").click()
    expect(_field_error(page, "settings-topic-slug")).to_contain_text("малих латинських літер")
    expect(editor.get_by_label("Ідентифікатор")).to_be_focused()
    editor.get_by_label("Ідентифікатор").fill("pensions")
    editor.get_by_role("button", name="Зберегти тему").click()
    expect(editor).to_be_hidden()
    expect(page.locator("#settings-topics-status")).to_have_text("Тему «Пенсії» створено.")
    expect(page.get_by_role("button", name="Нова тема")).to_be_focused()
    page.get_by_role("button", name="Змінити «Субсидії»").click()
    expect(editor.get_by_label("Назва", exact=True)).to_be_focused()
    expect(editor.get_by_label("Ідентифікатор")).to_have_attribute("readonly", "")
    editor.get_by_label("Ключові слова").fill("субсид, опален")
    editor.get_by_label("Пріоритет (0–100)").fill("5")
    editor.get_by_role("button", name="Зберегти тему").click()
    expect(page.locator("#settings-topics-status")).to_have_text("Тему «Субсидії» збережено.")
    expect(page.get_by_role("button", name="Змінити «Субсидії»")).to_be_focused()

    topics = {topic["slug"]: topic for topic in _api(stack, headers, "/api/v1/topics")}
    pensions, subsidies = topics["pensions"], topics["subsidies"]
    assert (pensions["name"], pensions["names"], pensions["keywords"]) == (
        "Пенсії",
        {"en": "Pensions"},
        ["пенсі", "перерахун"],
    )
    assert pensions["strategy"] == "round_robin" and pensions["first_response_seconds"] == 300
    assert pensions["next_response_seconds"] is None  # empty: the agency's
    assert subsidies["keywords"] == ["субсид", "опален"] and subsidies["priority"] == 5

    # Skills: Olena gets both topics (the new one is offered at once), English and a smaller capacity.
    page.get_by_label("Працівник", exact=True).select_option(label="Олена — працівник")
    skills = page.locator("#settings-skills")
    expect(skills.get_by_label("Пенсії")).to_have_value("")
    skills.get_by_label("Одночасних розмов (0–100)").fill("3")
    skills.get_by_label("Субсидії").select_option("4")
    skills.get_by_label("Пенсії").select_option("2")
    skills.get_by_label("англійська (en)").select_option("3")
    skills.get_by_role("button", name="Зберегти навички").click()
    expect(page.locator("#settings-skills-status")).to_contain_text("Навички працівника Олена збережено")
    saved = _api(stack, headers, f"/api/v1/agents/{olena_id}/skills")
    assert saved["capacity"] == 3
    assert {s["topic_id"]: s["level"] for s in saved["topics"]} == {subsidies["id"]: 4, pensions["id"]: 2}
    assert saved["languages"] == [{"language": "en", "level": 3}]

    skills.get_by_label("Одночасних розмов (0–100)").fill("101")
    skills.get_by_role("button", name="Зберегти навички").click()
    expect(_field_error(page, "settings-skills-capacity")).to_have_text("Має бути щонайбільше 100.")
    assert _api(stack, headers, f"/api/v1/agents/{olena_id}/skills")["capacity"] == 3

    # In English the same panel, with what was typed kept; then the screenshot for the README.
    page.get_by_role("button", name="English").first.click()
    expect(page.get_by_role("region", name="Routing settings")).to_be_visible()
    expect(skills.get_by_label("Conversations at once (0–100)")).to_have_value("101")
    expect(skills.get_by_label("English (en)")).to_have_value("3")
    skills.get_by_label("Conversations at once (0–100)").fill("3")
    page.get_by_role("button", name="Українська").first.click()
    expect(page.get_by_role("region", name="Налаштування маршрутизації")).to_be_visible()
    page.locator("#settings-title").scroll_into_view_if_needed()
    page.mouse.move(0, 0)
    page.screenshot(path=str(SCREENSHOTS / "console-settings.png"))


def _set_role(settings: Settings, email: str, role: str) -> None:
    async def change() -> None:
        engine = create_engine_for(settings.database_url)
        try:
            async with create_sessionmaker(engine)() as session:
                await session.execute(update(Agent).where(Agent.email == email).values(role=role))
                await session.commit()
        finally:
            await engine.dispose()

    run_async(change())


def test_only_admins_see_settings_and_a_refusal_says_so(
    stack: Stack, settings: Settings, console: Callable[..., Console]
) -> None:
    agent = console()
    page = agent.login(stack.world.agent_email)
    expect(page.locator("#settings-open")).to_be_hidden()
    page.locator("#inbox-heading").focus()
    page.keyboard.press("s")
    expect(page.locator("#settings")).to_be_hidden()

    supervisor = console()
    boss = supervisor.login(add_agent(settings, slug="minsoc", email="boss@minsoc.test", role="supervisor"))
    expect(boss.locator("#wall-open")).to_be_visible()
    expect(boss.locator("#settings-open")).to_be_hidden()

    # Made an admin after signing in: the console (which reads the role) offers the settings, but the
    # token still carries the old role, and the API refuses: the panel says so plainly.
    _set_role(settings, stack.world.agent_email, "admin")
    page.reload()
    expect(page.locator("#settings-open")).to_be_visible()
    page.locator("#settings-open").click()
    load = page.locator("#settings-load")
    expect(load).to_have_text("Немає доступу: це бачать лише керівники й адміністратори")
    expect(load).to_have_attribute("data-kind", "error")
    expect(page.locator("#settings-body")).to_be_hidden()
    expect(page.locator("#settings-retry")).to_be_hidden()
