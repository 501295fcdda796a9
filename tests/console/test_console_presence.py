"""Presence in the console: the agent sets it, colleagues see it live, and it goes offline by itself
when the console is closed (no socket for the grace period, 1.5 s in these tests)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import expect

from tests.console.conftest import PRESENCE_GRACE_SECONDS
from tests.console.console_page import Console
from tests.support.stack import Stack
from tests.support.world import login

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]


def test_presence_is_set_seen_live_and_goes_offline_when_the_console_closes(
    stack: Stack, console: Callable[..., Console]
) -> None:
    olena, taras = console(), console()
    olena.login(stack.world.agent_email)  # signing in makes the agent available
    page = taras.login(stack.world.second_agent_email)
    colleague = page.locator("#team-list li", has_text="Олена")
    expect(page.locator("#team-summary")).to_have_text("Колеги на зв’язку: 1")
    page.locator("#team-summary").click()
    expect(colleague).to_contain_text("На зв’язку")

    olena.page.get_by_label("Мій статус").select_option("away")
    expect(olena.page.locator("#announce")).to_have_text("Ваш статус: Перерва.")
    expect(colleague).to_contain_text("Перерва", timeout=1000)
    expect(page.locator("#team-summary")).to_have_text("Колеги на зв’язку: 0")
    olena.page.get_by_label("Мій статус").select_option("online")
    expect(colleague).to_contain_text("На зв’язку", timeout=1000)

    olena.close()  # the tab goes away without a word
    expect(colleague).to_contain_text("Не на зв’язку", timeout=int((PRESENCE_GRACE_SECONDS + 2) * 1000))
    headers = login(stack.client, stack.world.agent_email)
    history = stack.client.get("/api/v1/presence/changes", headers=headers).json()["items"]
    assert [(c["status"], c["cause"]) for c in history] == [
        ("offline", "console_closed"),
        ("online", "agent"),
        ("away", "agent"),
        ("online", "agent"),
    ]


def test_signing_out_sets_offline_at_once_and_a_new_sign_in_sets_online(
    stack: Stack, console: Callable[..., Console]
) -> None:
    olena, taras = console(), console()
    page = olena.login(stack.world.agent_email)
    taras.login(stack.world.second_agent_email)
    taras.page.locator("#team-summary").click()
    colleague = taras.page.locator("#team-list li", has_text="Олена")
    expect(colleague).to_contain_text("На зв’язку")

    page.get_by_role("button", name="Вийти").click()
    expect(page.get_by_role("heading", name="Вхід до консолі")).to_be_visible()
    expect(page.locator("#login-note")).to_have_text("Ви вийшли з консолі.")
    assert page.evaluate("sessionStorage.getItem('civdesk.token')") is None
    expect(colleague).to_contain_text("Не на зв’язку", timeout=1000)
    olena.login(stack.world.agent_email)
    expect(colleague).to_contain_text("На зв’язку", timeout=1000)

    # A token the server no longer accepts (expired, or the secret changed): back to the sign-in form.
    page.evaluate("sessionStorage.setItem('civdesk.token', 'not-a-valid-token')")
    page.reload()
    expect(page.get_by_role("heading", name="Вхід до консолі")).to_be_visible()
    expect(page.locator("#login-note")).to_have_text("Сесія завершилася. Увійдіть знову.")
