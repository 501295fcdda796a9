"""A small world for end-to-end tests: one agency, agents, a Telegram bot in the sandbox, a web chat."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from civdesk.agency import service as agency_service
from civdesk.agent import service as agent_service
from civdesk.channel import service as channel_service
from civdesk.config import Settings
from civdesk.db.session import create_engine_for, create_sessionmaker

T = TypeVar("T")
BOT_TOKEN = "4242:test-bot-token"
OTHER_BOT_TOKEN = "4343:other-agency-bot"
PASSWORD = "correct horse battery"


@dataclass(frozen=True)
class World:
    agency_id: int
    other_agency_id: int
    telegram_channel_id: int
    other_telegram_channel_id: int
    webchat_channel_id: int
    webhook_secret: str
    agent_email: str = "olena@minsoc.test"
    second_agent_email: str = "taras@minsoc.test"
    other_agent_email: str = "petro@pfu.test"


async def _seed(settings: Settings, sandbox_url: str) -> World:
    engine = create_engine_for(settings.database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            minsoc = await agency_service.create(
                session=session, slug="minsoc", name="Міністерство соціальної політики"
            )
            pfu = await agency_service.create(session=session, slug="pfu", name="Пенсійний фонд України")
            await agency_service.add_topic(session=session, agency=minsoc, slug="subsidies", name="Субсидії")
            for agency, email, name in (
                (minsoc, "olena@minsoc.test", "Олена"),
                (minsoc, "taras@minsoc.test", "Тарас"),
                (pfu, "petro@pfu.test", "Петро"),
            ):
                await agent_service.create(session=session, agency=agency, email=email, password=PASSWORD, name=name)
            secret = "test_webhook-secret"
            telegram = await channel_service.add(
                session=session,
                agency=minsoc,
                type="telegram",
                name="@minsoc_bot",
                config={"api_base": sandbox_url},
                secrets={"token": BOT_TOKEN, "secret": secret},
            )
            other = await channel_service.add(
                session=session,
                agency=pfu,
                type="telegram",
                name="@pfu_bot",
                config={"api_base": sandbox_url},
                secrets={"token": OTHER_BOT_TOKEN, "secret": secret},
            )
            webchat = await channel_service.add(session=session, agency=minsoc, type="webchat", name="Веб-чат")
            await session.commit()
            return World(
                agency_id=minsoc.id,
                other_agency_id=pfu.id,
                telegram_channel_id=telegram.id,
                other_telegram_channel_id=other.id,
                webchat_channel_id=webchat.id,
                webhook_secret=secret,
            )
    finally:
        await engine.dispose()


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """Runs a coroutine to completion from sync test code, in a thread of its own: Playwright's
    sync API leaves an event loop marked as running in the test thread, where asyncio.run refuses."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def seed_world(settings: Settings, sandbox_url: str) -> World:
    return run_async(_seed(settings, sandbox_url))


def login(client: httpx.Client, email: str, password: str = PASSWORD) -> dict[str, str]:
    response = client.post("/api/v1/auth/login", json={"email": email, "password": password})
    response.raise_for_status()
    return {"authorization": f"Bearer {response.json()['access_token']}"}


def wait_for(predicate: Any, *, timeout: float = 5.0, interval: float = 0.02, what: str = "condition") -> Any:
    """Polls until predicate() returns something truthy; returns it."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)
