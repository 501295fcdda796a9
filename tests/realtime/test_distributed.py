"""Distributed mode: two web processes share PostgreSQL and Redis; workers share jobs with no double send."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from websockets.sync.client import connect

from civdesk.app import create_app
from civdesk.config import Settings
from civdesk.db.session import create_engine_for, create_sessionmaker
from civdesk.delivery import service as delivery_service
from civdesk.realtime.bus import RedisBus
from tests.support.live_server import LiveServer
from tests.support.stack import Stack
from tests.support.world import BOT_TOKEN, login, wait_for

# The distributed mode is PostgreSQL + Redis by definition.
on_postgresql = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


@pytest.fixture
def settings(database_url: str, redis_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        redis_url=redis_url,
        secret_key="test-secret-key-for-civdesk-tests-0123456789",
        delivery_poll_seconds=0.05,
    )


async def test_redis_bus_delivers_across_instances(redis_url: str) -> None:
    first, second = RedisBus(redis_url), RedisBus(redis_url)
    await first.start()
    await second.start()
    try:
        async with second.subscribe("agency:77") as queue:
            await first.publish("agency:77", {"id": 1, "type": "message.created"})
            assert (await asyncio.wait_for(queue.get(), timeout=5))["type"] == "message.created"
    finally:
        await first.close()
        await second.close()


@on_postgresql
def test_an_event_ingested_by_one_process_reaches_a_console_on_another(stack: Stack, settings: Settings) -> None:
    # `stack` runs process A (it receives the webhook); B is a second web process with no worker.
    with LiveServer(create_app(settings, run_workers=False)) as other, httpx.Client(base_url=other.url) as client:
        token = login(client, stack.world.agent_email)["authorization"].split()[1]
        with connect(other.url.replace("http://", "ws://") + f"/api/v1/ws?token={token}") as ws:
            assert json.loads(ws.recv(timeout=5))["type"] == "hello"
            stack.emulator.citizen_says(token=BOT_TOKEN, chat_id=5150, text="Через Redis")
            while True:
                event = json.loads(ws.recv(timeout=5))
                if event["type"] == "message.created":
                    break
            assert event["payload"]["message"]["text"] == "Через Redis"
        # A reply accepted by B is delivered by A's worker, woken through Redis.
        headers = {"authorization": f"Bearer {token}"}
        conversation_id = event["payload"]["conversation"]["id"]
        client.post(
            f"/api/v1/conversations/{conversation_id}/messages", headers=headers, json={"text": "Відповідь з B"}
        ).raise_for_status()
        [sent] = stack.emulator.wait_for_sends(token=BOT_TOKEN, chat_id=5150, count=1)
        assert sent["text"] == "Відповідь з B"


@on_postgresql
async def test_concurrent_workers_never_claim_the_same_job(stack: Stack, settings: Settings) -> None:
    headers = login(stack.client, stack.world.agent_email)
    for chat in range(6000, 6010):
        stack.emulator.citizen_says(token=BOT_TOKEN, chat_id=chat, text="Питання")
    conversations = wait_for(
        lambda: (lambda items: items if len(items) == 10 else None)(
            stack.client.get("/api/v1/conversations", headers=headers).json()["items"]
        ),
        what="ten conversations",
    )
    # Stop the embedded worker from competing: claim with a long lease first, then release for the test.
    engine = create_engine_for(settings.database_url)
    maker = create_sessionmaker(engine)
    try:
        for conversation in conversations:
            for n in range(3):
                stack.client.post(
                    f"/api/v1/conversations/{conversation['id']}/messages", headers=headers, json={"text": f"r{n}"}
                ).raise_for_status()

        async def claim() -> list[int]:
            async with maker() as session:
                jobs = await delivery_service.claim_due(session=session, limit=7, lease_seconds=60)
                await asyncio.sleep(0.05)  # hold the row locks while the others try
                await session.commit()
                return [j.job_id for j in jobs]

        claimed = [job for batch in await asyncio.gather(*(claim() for _ in range(8))) for job in batch]
        assert len(claimed) == len(set(claimed))
    finally:
        await engine.dispose()
