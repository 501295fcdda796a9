"""Pacing: one citizen's wait must not move the whole account's schedule; claims follow the pace."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid

import pytest

from civdesk.channels.base import PlatformLimits
from civdesk.delivery.claims import CLAIM_HORIZON, ChannelClaims
from civdesk.delivery.pacing import LocalPacer, Pacer, RedisPacer

# 50 sends/s on the account (one per 20 ms), one per 200 ms to each citizen: short, so the test is quick.
LIMITS = PlatformLimits(messages_per_second=50, per_recipient_per_second=5, max_text_length=4096)
CITIZEN_GAP = 1 / LIMITS.per_recipient_per_second


async def _an_agents_burst(pacer: Pacer, channel_id: int) -> tuple[list[float], list[float]]:
    """Three replies to one citizen, then one each to five others: when each send may go (s from start)."""
    start = time.monotonic()

    async def send(recipient: str) -> float:
        wait = await pacer.reserve(channel_id=channel_id, recipient=recipient, limits=LIMITS, max_wait=5.0)
        assert wait >= 0
        return time.monotonic() + wait - start

    same = [asyncio.create_task(send("citizen-a")) for _ in range(3)]
    await asyncio.sleep(0.05)  # all three have asked for their slots
    others = [await send(f"citizen-{n}") for n in range(5)]
    return sorted(await asyncio.gather(*same)), others


def _check(same: list[float], others: list[float]) -> None:
    # Before the fix the account's next slot followed the citizen's: the others went only after the
    # third reply's slot (0.4 s and later), about 20 account slots lost to one agent's burst.
    assert max(others) < 0.3, others
    gaps = [b - a for a, b in itertools.pairwise(same)]
    assert min(gaps) >= CITIZEN_GAP - 0.01, gaps  # the citizen's own limit still holds


async def test_a_burst_to_one_citizen_does_not_delay_the_next_citizens() -> None:
    _check(*await _an_agents_burst(LocalPacer(), channel_id=1))


async def test_a_burst_to_one_citizen_does_not_delay_the_next_citizens_across_workers(redis_url: str) -> None:
    pacer = RedisPacer(redis_url)
    channel_id = 10**9 + uuid.uuid4().int % 10**6  # keys of its own on a shared Redis
    try:
        same, others = await _an_agents_burst(pacer, channel_id=channel_id)
        _check(same, others)
        waits = await pacer.account_waits(channel_ids=[channel_id, channel_id + 1])
        assert waits[channel_id + 1] == 0.0 and 0.0 <= waits[channel_id] < 1.0
    finally:
        await pacer.close()


async def test_account_waits_show_how_far_sends_are_booked() -> None:
    pacer = LocalPacer()
    for n in range(10):
        await pacer.reserve(channel_id=7, recipient=f"c{n}", limits=LIMITS, max_wait=5.0)
    waits = await pacer.account_waits(channel_ids=[7, 8])
    assert waits[8] == 0.0
    assert waits[7] == pytest.approx(10 / LIMITS.messages_per_second, abs=0.05)


def test_a_slow_channel_is_claimed_only_as_far_as_its_pace_goes() -> None:
    claims = ChannelClaims()
    claims.mark_due(channel_id=1, rate=10)  # Messenger
    claims.mark_due(channel_id=2, rate=80)  # WhatsApp
    assert claims.room(channel_id=1, account_wait=0.0, free=100, batch=50) == round(10 * CLAIM_HORIZON)
    assert claims.room(channel_id=2, account_wait=0.0, free=100, batch=50) == round(80 * CLAIM_HORIZON)
    # Booked beyond the horizon (by this worker or another): nothing more yet.
    assert claims.room(channel_id=1, account_wait=CLAIM_HORIZON + 0.1, free=100, batch=50) == 0
    # Claimed jobs not yet at the pacer count against the room.
    for job_id in range(3):
        claims.claimed(channel_id=1, job_id=job_id)
    assert claims.room(channel_id=1, account_wait=0.0, free=100, batch=50) == round(10 * CLAIM_HORIZON) - 3
    for job_id in range(3):
        claims.booked(channel_id=1, job_id=job_id)
        claims.finished(channel_id=1, job_id=job_id)
    claims.drained(channel_id=1)
    assert claims.room(channel_id=1, account_wait=0.0, free=100, batch=50) == 0
    assert claims.due_channels() == [2]
