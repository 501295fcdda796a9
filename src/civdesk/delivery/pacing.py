"""Outbound pacing per platform account and per recipient, shared by every worker.

A generic cell rate algorithm (GCRA): each key remembers the earliest time its next message may
go. A send reserves a slot only when it can go within `max_wait` seconds; otherwise the job is put
back until its slot, so no worker sleeps past its lease. A 429 pushes the account's next slot out.
In the distributed mode the state lives in Redis (one atomic script), so N workers share one budget.
"""

from __future__ import annotations

import time
from typing import Protocol

import redis.asyncio as redis_asyncio

from civdesk.channels.base import PlatformLimits


class Pacer(Protocol):
    async def reserve(self, *, channel_id: int, recipient: str, limits: PlatformLimits, max_wait: float) -> float:
        """Seconds to wait before sending, with the slot reserved; or a negative number meaning
        "not within max_wait: try again in -value seconds" (nothing reserved)."""
        ...

    async def slow_down(self, *, channel_id: int, seconds: float, recipient: str | None = None) -> None:
        """The platform said "too many requests": nobody sends on this account (or, with `recipient`,
        to this citizen) for a while."""
        ...


def _keys(channel_id: int, recipient: str) -> tuple[str, str]:
    return f"pace:{channel_id}", f"pace:{channel_id}:{recipient}"


def _intervals(limits: PlatformLimits) -> tuple[float, float]:
    return 1.0 / limits.messages_per_second, 1.0 / limits.per_recipient_per_second


class LocalPacer:
    """For the embedded mode: one process, one worker."""

    def __init__(self) -> None:
        self._next: dict[str, float] = {}

    async def reserve(self, *, channel_id: int, recipient: str, limits: PlatformLimits, max_wait: float) -> float:
        now = time.monotonic()
        account_key, recipient_key = _keys(channel_id, recipient)
        account_gap, recipient_gap = _intervals(limits)
        start = max(now, self._next.get(account_key, now), self._next.get(recipient_key, now))
        wait = start - now
        if wait > max_wait:
            return -wait
        self._next[account_key] = max(self._next.get(account_key, now), start) + account_gap
        self._next[recipient_key] = start + recipient_gap
        return wait

    async def slow_down(self, *, channel_id: int, seconds: float, recipient: str | None = None) -> None:
        key = _keys(channel_id, recipient)[1] if recipient is not None else f"pace:{channel_id}"
        self._next[key] = max(self._next.get(key, 0.0), time.monotonic() + seconds)


_RESERVE = """
local now = tonumber(ARGV[1])
local account_gap, recipient_gap, max_wait = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local account_next = tonumber(redis.call('GET', KEYS[1]) or now)
local recipient_next = tonumber(redis.call('GET', KEYS[2]) or now)
local start = math.max(now, account_next, recipient_next)
local wait = start - now
if wait > max_wait then return tostring(-wait) end
local ttl = math.ceil(wait + math.max(account_gap, recipient_gap)) + 60
redis.call('SET', KEYS[1], tostring(math.max(account_next, start) + account_gap), 'EX', ttl)
redis.call('SET', KEYS[2], tostring(start + recipient_gap), 'EX', ttl)
return tostring(wait)
"""


class RedisPacer:
    def __init__(self, url: str) -> None:
        self._redis = redis_asyncio.from_url(url)
        self._script = self._redis.register_script(_RESERVE)

    async def reserve(self, *, channel_id: int, recipient: str, limits: PlatformLimits, max_wait: float) -> float:
        account_gap, recipient_gap = _intervals(limits)
        account_key, recipient_key = _keys(channel_id, recipient)
        # Redis's own clock, so workers on different machines agree on "now".
        seconds, micros = await self._redis.time()
        result = await self._script(
            keys=[f"civdesk:{account_key}", f"civdesk:{recipient_key}"],
            args=[seconds + micros / 1e6, account_gap, recipient_gap, max_wait],
        )
        return float(result)

    async def slow_down(self, *, channel_id: int, seconds: float, recipient: str | None = None) -> None:
        now_s, now_us = await self._redis.time()
        until = now_s + now_us / 1e6 + seconds
        key = "civdesk:" + (_keys(channel_id, recipient)[1] if recipient is not None else f"pace:{channel_id}")
        current = await self._redis.get(key)
        if current is None or float(current) < until:
            await self._redis.set(key, str(until), ex=int(seconds) + 60)

    async def close(self) -> None:
        await self._redis.aclose()
