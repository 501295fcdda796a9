"""Response targets in the console, in a real browser: when the timer worker warns at 80 % of a target
(target.warning naming the agent), the agent sees a polite, non-blocking notice and a "!" badge on the
conversation until they answer; a breach (target.breached) is told to the supervisor — uk and en, axe-clean."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from civdesk.config import Settings
from civdesk.conversation.models import Conversation
from civdesk.core.clock import now
from civdesk.db.session import create_engine_for, create_sessionmaker
from civdesk.timer import service as timer_service
from tests.console.console_page import Console
from tests.knowledge.support import add_agent
from tests.support.stack import Stack
from tests.support.world import BOT_TOKEN, login, run_async, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]


KYIV = ZoneInfo("Europe/Kyiv")  # the console's browser runs in it (console_page)


def _showing(text: str, hhmm: str) -> re.Pattern[str]:
    """`text` with the due time at "{at}": "00:10" on the browser's today, "30 лист., 00:10" on another
    day (near midnight a due time 30 minutes ahead is tomorrow's)."""
    before, after = text.split("{at}")
    return re.compile(f"^{re.escape(before)}(?:[^,]+, )?{re.escape(hhmm)}{re.escape(after)}$")


def _clean(page: Page, when: str) -> None:
    results = Axe().run(page)
    assert results.violations_count == 0, f"{when}:\n{results.generate_report()}"


def _target_timer_due_now(settings: Settings, conversation_id: int, *, stage: str, due: datetime) -> None:
    """A first-response timer for the conversation's current wait, due now, as routing.targets sets it:
    the app's embedded timer worker fires it and emits target.warning (stage "warn") or target.breached."""

    async def schedule() -> None:
        engine = create_engine_for(settings.database_url)
        try:
            async with create_sessionmaker(engine)() as session:
                conversation = await session.get(Conversation, conversation_id)
                assert conversation is not None and conversation.awaiting_since is not None
                await timer_service.schedule(
                    session=session,
                    kind="target_response",
                    due_at=now(),
                    agency_id=conversation.agency_id,
                    conversation_id=conversation_id,
                    payload={
                        "target": "first_response",
                        "since": conversation.awaiting_since.isoformat(),
                        "due": due.isoformat(),
                        "stage": stage,
                    },
                )
                await session.commit()
        finally:
            await engine.dispose()

    run_async(schedule())


def test_a_target_warning_shows_the_agent_a_notice_and_a_badge_until_they_answer(
    stack: Stack, settings: Settings, console: Callable[..., Console]
) -> None:
    add_agent(settings, slug="minsoc", email="boss@minsoc.test", role="supervisor")
    agent = login(stack.client, stack.world.agent_email)
    stack.emulator.citizen_says(token=BOT_TOKEN, chat_id=9801, text="Де моя довідка?", first_name="Ірина")
    conversation = wait_for(
        lambda: stack.client.get("/api/v1/conversations", headers=agent).json()["items"], what="the conversation"
    )[0]
    cid = conversation["id"]
    assert stack.client.post(f"/api/v1/conversations/{cid}/assign", headers=agent).status_code == 200

    tab = console()
    page = tab.login(stack.world.agent_email)
    boss_tab = console()
    boss = boss_tab.login("boss@minsoc.test")
    item = tab.item("Ірина")
    expect(item).to_be_visible()
    expect(item.locator(".target-badge")).to_have_count(0)

    due = (now() + timedelta(minutes=30)).replace(second=0, microsecond=0)
    hhmm = due.astimezone(KYIV).strftime("%H:%M")
    _target_timer_due_now(settings, cid, stage="warn", due=due)

    notices = page.locator("#notices")
    expect(notices).to_have_attribute("aria-live", "polite")
    expect(notices.locator(".notice-item")).to_have_count(1)
    expect(notices.get_by_role("link")).to_have_text(_showing(f"Розмова #{cid}: відповідь потрібна до {{at}}", hhmm))
    badge = item.locator(".target-badge")
    # "!" shown, the rest for screen readers
    expect(badge).to_have_text(_showing("!, відповідь потрібна до {at}", hhmm))
    expect(badge.locator("[aria-hidden=true]")).to_have_text("!")
    assert tab.focused() != "notices"  # non-blocking: focus stays where it was
    expect(boss.locator("#notices .notice-item")).to_have_count(0)  # the warning is the assignee's
    _clean(page, "the console with a target warning")

    page.get_by_role("button", name="English").first.click()
    expect(notices.get_by_role("link")).to_have_text(_showing(f"Conversation #{cid}: answer needed by {{at}}", hhmm))
    expect(badge).to_have_text(_showing("!, answer needed by {at}", hhmm))

    # At the target: the supervisor is told; the agent's badge says the target was missed.
    _target_timer_due_now(settings, cid, stage="breach", due=due)
    expect(boss.locator("#notices .notice-item--breached")).to_have_text(
        _showing(f"Розмова #{cid}: строк «перша відповідь» минув о {{at}} (Олена) Приховати", hhmm)
    )
    expect(badge).to_have_text(_showing("!, target missed at {at}", hhmm))
    _clean(boss, "the supervisor's console with a breach notice")

    # The notice opens its conversation; answering clears the notice and the badge.
    notices.get_by_role("link").click()
    expect(page.locator("#conv-title")).to_have_text("Ірина")
    page.locator("#text").fill("Довідка готова, заберіть у ЦНАП.")
    page.locator("#text").press("Enter")
    expect(tab.messages("out")).to_have_count(1)
    expect(badge).to_have_count(0)
    expect(notices.locator(".notice-item")).to_have_count(0)

    # The supervisor's breach notice stays until dismissed, by keyboard too.
    expect(boss.locator("#notices .notice-item")).to_have_count(1)
    boss.get_by_role("button", name=f"Приховати сповіщення: Розмова #{cid}").focus()
    boss.keyboard.press("Enter")
    expect(boss.locator("#notices .notice-item")).to_have_count(0)
