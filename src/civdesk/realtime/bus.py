"""Publish/subscribe across processes: in memory for the embedded mode, Redis for distributed."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import weakref
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any, Protocol

import redis.asyncio as redis_asyncio

log = logging.getLogger(__name__)


def agency_topic(agency_id: int) -> str:
    return f"agency:{agency_id}"


DELIVERY_TOPIC = "delivery"
TIMER_TOPIC = "timers"  # a timer due now was committed: workers look at once


class Bus(Protocol):
    async def publish(self, topic: str, message: dict[str, Any]) -> None: ...

    def subscribe(self, topic: str) -> contextlib.AbstractAsyncContextManager[asyncio.Queue[dict[str, Any]]]: ...

    async def close(self) -> None: ...


class _LocalFanout:
    """Topic → queues of this process's subscribers."""

    def __init__(self) -> None:
        self._queues: dict[str, set[asyncio.Queue[dict[str, Any]]]] = defaultdict(set)

    def deliver(self, topic: str, message: dict[str, Any]) -> None:
        for queue in list(self._queues.get(topic, ())):
            queue.put_nowait(message)

    @contextlib.asynccontextmanager
    async def subscription(self, topic: str) -> AsyncIterator[asyncio.Queue[dict[str, Any]]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._queues[topic].add(queue)
        try:
            yield queue
        finally:
            self._queues[topic].discard(queue)
            if not self._queues[topic]:
                del self._queues[topic]

    def topics(self) -> list[str]:
        return list(self._queues)


class MemoryBus:
    def __init__(self) -> None:
        self._fanout = _LocalFanout()

    async def publish(self, topic: str, message: dict[str, Any]) -> None:
        self._fanout.deliver(topic, message)

    def subscribe(self, topic: str) -> contextlib.AbstractAsyncContextManager[asyncio.Queue[dict[str, Any]]]:
        return self._fanout.subscription(topic)

    async def close(self) -> None:
        return None


class RedisBus:
    """One Redis pattern subscription per process, fanned out locally to websockets and workers."""

    prefix = "civdesk:"

    def __init__(self, url: str) -> None:
        self._redis = redis_asyncio.from_url(url)
        self._fanout = _LocalFanout()
        self._reader: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def start(self) -> None:
        if self._reader is None:
            self._reader = asyncio.create_task(self._read_forever(), name="redis-bus-reader")
            await asyncio.wait_for(self._ready.wait(), timeout=10)

    async def _read_forever(self) -> None:
        while True:
            try:
                pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
                await pubsub.psubscribe(f"{self.prefix}*")
                self._ready.set()
                async for item in pubsub.listen():
                    if item.get("type") != "pmessage":
                        continue
                    topic = item["channel"].decode()[len(self.prefix) :]
                    self._fanout.deliver(topic, json.loads(item["data"]))
            except asyncio.CancelledError:
                raise
            except Exception:  # Redis restarts must not kill the process: resubscribe.
                log.warning("redis bus connection lost; reconnecting", exc_info=True)
                await asyncio.sleep(1)

    async def publish(self, topic: str, message: dict[str, Any]) -> None:
        await self._redis.publish(f"{self.prefix}{topic}", json.dumps(message, default=str))

    def subscribe(self, topic: str) -> contextlib.AbstractAsyncContextManager[asyncio.Queue[dict[str, Any]]]:
        return self._fanout.subscription(topic)

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        await self._redis.aclose()


# One bus per event loop. A process normally runs one loop; tests run several servers in threads,
# and a bus (its queues, its Redis connection) must never be touched from another loop.
_by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Bus] = weakref.WeakKeyDictionary()


def install(bus: Bus) -> None:
    """Makes `bus` the one the running loop publishes to and subscribes on."""
    _by_loop[asyncio.get_running_loop()] = bus


def current() -> Bus:
    loop = asyncio.get_running_loop()
    bus = _by_loop.get(loop)
    if bus is None:
        bus = _by_loop[loop] = MemoryBus()
    return bus
