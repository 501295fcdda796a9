"""Delivery survives a worker that dies mid-delivery: the lease runs out, another worker sends once."""

from __future__ import annotations

import asyncio

import pytest

from civdesk.channels import registry
from civdesk.config import Settings
from civdesk.db.session import create_engine_for, create_sessionmaker
from civdesk.delivery import service as delivery_service
from civdesk.delivery.models import DeliveryJob, JobStatus
from civdesk.delivery.worker import DeliveryWorker
from tests.support.stack import Stack
from tests.support.world import BOT_TOKEN, login, wait_for

CHAT = 880011


@pytest.fixture
def settings(database_url: str) -> Settings:
    # No in-process worker: this test plays the workers itself.
    return Settings(
        database_url=database_url,
        secret_key="test-secret-key-for-civdesk-tests-0123456789",
        embedded_worker=False,
    )


def _queue_reply(stack: Stack, text: str) -> None:
    headers = login(stack.client, stack.world.agent_email)
    stack.emulator.citizen_says(token=BOT_TOKEN, chat_id=CHAT, text="Питання")
    conversation = wait_for(
        lambda: stack.client.get("/api/v1/conversations", headers=headers).json()["items"], what="conversation"
    )[0]
    stack.client.post(
        f"/api/v1/conversations/{conversation['id']}/messages", headers=headers, json={"text": text}
    ).raise_for_status()


async def test_a_job_claimed_by_a_dead_worker_is_delivered_once_after_its_lease(
    stack: Stack, settings: Settings
) -> None:
    _queue_reply(stack, "Відповідь після перезапуску")
    engine = create_engine_for(settings.database_url)
    maker = create_sessionmaker(engine)
    try:
        # Worker A claims the job and dies before sending.
        async with maker() as session:
            [claimed] = await delivery_service.claim_due(session=session, limit=10, lease_seconds=0.5)
            await session.commit()
        worker_b = DeliveryWorker(sessionmaker=maker, lease_seconds=30)
        assert await worker_b.run_once() == 0  # the lease still protects the job from a double send
        await asyncio.sleep(0.6)
        assert await worker_b.run_once() == 1
        assert [s["text"] for s in stack.emulator.sent(token=BOT_TOKEN, chat_id=CHAT)] == [
            "Відповідь після перезапуску"
        ]
        async with maker() as session:
            job = await session.get(DeliveryJob, claimed.job_id)
            assert job is not None and job.status == JobStatus.DONE.value and job.attempts == 2
        assert await worker_b.run_once() == 0  # nothing left, nothing sent twice
        assert len(stack.emulator.sent(token=BOT_TOKEN, chat_id=CHAT)) == 1
    finally:
        await registry.close_all()  # this loop's HTTP sessions
        await engine.dispose()


async def test_a_running_worker_takes_over_a_job_whose_lease_lapsed(stack: Stack, settings: Settings) -> None:
    _queue_reply(stack, "Відповідь, яку інший воркер не встиг надіслати")
    engine = create_engine_for(settings.database_url)
    maker = create_sessionmaker(engine)
    try:
        async with maker() as session:  # worker A claims the job and dies before sending
            [claimed] = await delivery_service.claim_due(session=session, limit=10, lease_seconds=0.5)
            await session.commit()
        stop = asyncio.Event()
        # Its own lease of 4 s makes it release lapsed leases every second.
        running = asyncio.create_task(DeliveryWorker(sessionmaker=maker, poll_seconds=0.05, lease_seconds=4).run(stop))
        sends = await asyncio.to_thread(
            stack.emulator.wait_for_sends, token=BOT_TOKEN, chat_id=CHAT, count=1, timeout=15
        )
        await asyncio.sleep(0.3)
        stop.set()
        await running
        assert [s["text"] for s in sends] == ["Відповідь, яку інший воркер не встиг надіслати"]
        assert len(stack.emulator.sent(token=BOT_TOKEN, chat_id=CHAT)) == 1
        async with maker() as session:
            job = await session.get(DeliveryJob, claimed.job_id)
            assert job is not None and job.status == JobStatus.DONE.value and job.attempts == 2
    finally:
        await registry.close_all()
        await engine.dispose()


async def test_a_worker_stopped_and_started_again_delivers_what_was_queued(stack: Stack, settings: Settings) -> None:
    engine = create_engine_for(settings.database_url)
    maker = create_sessionmaker(engine)
    try:
        _queue_reply(stack, "Перша")
        stop = asyncio.Event()
        first = DeliveryWorker(sessionmaker=maker, poll_seconds=0.05)
        running = asyncio.create_task(first.run(stop))
        await asyncio.to_thread(stack.emulator.wait_for_sends, token=BOT_TOKEN, chat_id=CHAT, count=1)
        stop.set()
        await running
        _queue_reply(stack, "Друга, поки воркер стоїть")
        await asyncio.sleep(0.2)
        assert len(stack.emulator.sent(token=BOT_TOKEN, chat_id=CHAT)) == 1
        second = DeliveryWorker(sessionmaker=maker, poll_seconds=0.05)
        stop = asyncio.Event()
        running = asyncio.create_task(second.run(stop))
        sends = await asyncio.to_thread(stack.emulator.wait_for_sends, token=BOT_TOKEN, chat_id=CHAT, count=2)
        stop.set()
        await running
        assert [s["text"] for s in sends] == ["Перша", "Друга, поки воркер стоїть"]
    finally:
        await registry.close_all()  # this loop's HTTP sessions
        await engine.dispose()


def test_backoff_grows_and_is_capped() -> None:
    assert [delivery_service.backoff_seconds(n) for n in (1, 2, 3, 4)] == [1, 2, 4, 8]
    assert delivery_service.backoff_seconds(30) == 300
