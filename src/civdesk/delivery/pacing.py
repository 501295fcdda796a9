"""Outbound pacing per platform account and per recipient, shared by every worker.

A generic cell rate algorithm (GCRA): each key remembers the earliest time its next message may
go. A send reserves a slot only when it can go within `max_wait` seconds; otherwise the job is put
back until its slot, so no worker sleeps past its lease. A 429 pushes the account's next slot out.
In the distributed mode the state lives in Redis (one atomic script), so N workers share one budget.

When the citizen's own slot is what holds a send back, only the citizen's slot is taken at first:
the send waits for it and then takes the account's next slot. Taking an account slot at the
citizen's (later) time would push the whole account's schedule out, and every other citizen of that
channel would wait behind one agent's burst of replies to one person.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Protocol

import redis.asyncio as redis_asyncio

from civdesk.channels.base import PlatformLimits


class Pacer(Protocol):
    async def reserve(self, *, channel_id: int, recipient: str, limits: PlatformLimits, max_wait: float) -> float:
        """Seconds to wait before sending, with the slot reserved; or a negative number meaning
        "not within max_wait: try again in -value seconds" (nothing reserved). A wait for the
        citizen's own slot is slept here, before the account's slot is taken."""
        ...

    async def account_waits(self, *, channel_ids: Sequence[int]) -> dict[int, float]:
        """Per channel, seconds until its account's next free slot (0 if free now): how far ahead
        sends are already booked, so a worker claims only what the pace lets go soon."""
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
        account_key, recipient_key = _keys(channel_id, recipient)
        account_gap, recipient_gap = _intervals(limits)
        now = time.monotonic()
        account_start = max(now, self._next.get(account_key, now))
        recipient_next = self._next.get(recipient_key, now)
        if recipient_next > account_start:
            wait = recipient_next - now
            if wait > max_wait:
                return -wait
            self._next[recipient_key] = recipient_next + recipient_gap
            await asyncio.sleep(wait)
            now = time.monotonic()
            account_start = max(now, self._next.get(account_key, now))
        if account_start - now > max_wait:
            return -(account_start - now)
        self._next[account_key] = account_start + account_gap
        # The citizen's next slot counts from when this send really goes.
        self._next[recipient_key] = max(self._next.get(recipient_key, now), account_start + recipient_gap)
        return account_start - now

    async def account_waits(self, *, channel_ids: Sequence[int]) -> dict[int, float]:
        now = time.monotonic()
        return {c: max(0.0, self._next.get(f"pace:{c}", now) - now) for c in channel_ids}

    async def slow_down(self, *, channel_id: int, seconds: float, recipient: str | None = None) -> None:
        key = _keys(channel_id, recipient)[1] if recipient is not None else f"pace:{channel_id}"
        self._next[key] = max(self._next.get(key, 0.0), time.monotonic() + seconds)


# Redis's own clock, so workers on different machines agree on "now"; TIME inside the script saves a
# round trip (Redis ≥ 5 replicates a script's effects, so a non-deterministic call before a write is
# allowed). ARGV[4] = "1": take the citizen's slot too; when the citizen binds, take only that one and
# answer {"citizen", wait}: the caller waits, then calls again with "0" for the account's slot.
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local account_gap, recipient_gap, max_wait = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local account_start = math.max(now, tonumber(redis.call('GET', KEYS[1]) or now))
local recipient_next = tonumber(redis.call('GET', KEYS[2]) or now)
if ARGV[4] == '1' and recipient_next > account_start then
  local wait = recipient_next - now
  if wait > max_wait then return {'later', tostring(-wait)} end
  redis.call('SET', KEYS[2], tostring(recipient_next + recipient_gap), 'EX', math.ceil(wait + recipient_gap) + 60)
  return {'citizen', tostring(wait)}
end
local wait = account_start - now
if wait > max_wait then return {'later', tostring(-wait)} end
local ttl = math.ceil(wait + math.max(account_gap, recipient_gap)) + 60
redis.call('SET', KEYS[1], tostring(account_start + account_gap), 'EX', ttl)
redis.call('SET', KEYS[2], tostring(math.max(recipient_next, account_start + recipient_gap)), 'EX', ttl)
return {'go', tostring(wait)}
"""

_ACCOUNT_WAITS = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local out = {}
for i, key in ipairs(KEYS) do
  out[i] = tostring(math.max(0, tonumber(redis.call('GET', key) or now) - now))
end
return out
"""


class RedisPacer:
    def __init__(self, url: str) -> None:
        self._redis = redis_asyncio.from_url(url)
        self._script = self._redis.register_script(_RESERVE)
        self._waits = self._redis.register_script(_ACCOUNT_WAITS)

    async def reserve(self, *, channel_id: int, recipient: str, limits: PlatformLimits, max_wait: float) -> float:
        account_gap, recipient_gap = _intervals(limits)
        account_key, recipient_key = _keys(channel_id, recipient)
        keys = [f"civdesk:{account_key}", f"civdesk:{recipient_key}"]
        kind, value = await self._script(keys=keys, args=[account_gap, recipient_gap, max_wait, "1"])
        if kind == b"citizen":
            await asyncio.sleep(float(value))
            kind, value = await self._script(keys=keys, args=[account_gap, recipient_gap, max_wait, "0"])
        return float(value)

    async def account_waits(self, *, channel_ids: Sequence[int]) -> dict[int, float]:
        if not channel_ids:
            return {}
        values = await self._waits(keys=[f"civdesk:pace:{c}" for c in channel_ids])
        return {c: float(v) for c, v in zip(channel_ids, values, strict=True)}

    async def slow_down(self, *, channel_id: int, seconds: float, recipient: str | None = None) -> None:
        now_s, now_us = await self._redis.time()
        until = now_s + now_us / 1e6 + seconds
        key = "civdesk:" + (_keys(channel_id, recipient)[1] if recipient is not None else f"pace:{channel_id}")
        current = await self._redis.get(key)
        if current is None or float(current) < until:
            await self._redis.set(key, str(until), ex=int(seconds) + 60)

    async def close(self) -> None:
        await self._redis.aclose()
