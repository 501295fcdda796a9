"""The socket keeps up with its events when the event loop is busy: what is already queued goes at once."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from starlette.websockets import WebSocket

from civdesk.realtime.socket import LiveSocket


class _QuietClient:
    """A connected console that sends nothing: `receive_text` waits until the test ends."""

    def __init__(self) -> None:
        self.gone = asyncio.Event()
        self.sent: list[dict[str, Any]] = []

    async def send_json(self, data: dict[str, Any]) -> None:
        self.sent.append(data)

    async def receive_text(self) -> str:
        await self.gone.wait()
        raise RuntimeError("closed")


async def test_queued_events_are_handed_over_without_waiting_for_the_loop() -> None:
    client = _QuietClient()
    live: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    socket = LiveSocket(cast(WebSocket, client), live)
    turns = 0

    async def other_work() -> None:  # the webhooks sharing the loop
        nonlocal turns
        while True:
            await asyncio.sleep(0)
            turns += 1

    busy = asyncio.create_task(other_work())
    await asyncio.sleep(0)
    for n in range(100):
        live.put_nowait({"id": n})
    before = turns
    handed = [await socket.next_event() for _ in range(100)]
    assert [event["id"] for event in handed if event] == list(range(100))
    assert turns == before  # no turn of the loop per event: a busy loop cannot make the socket fall behind

    waiting = asyncio.create_task(socket.next_event())  # nothing queued: it waits for the next one
    await asyncio.sleep(0.01)
    assert not waiting.done()
    live.put_nowait({"id": 100})
    assert await asyncio.wait_for(waiting, timeout=2) == {"id": 100}

    busy.cancel()
    client.gone.set()
    await socket.close()


async def test_an_idle_socket_sends_heartbeats_and_notices_the_client_leave() -> None:
    client = _QuietClient()
    live: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    socket = LiveSocket(cast(WebSocket, client), live, heartbeat_seconds=0.05)
    waiting = asyncio.create_task(socket.next_event())
    await asyncio.sleep(0.18)
    assert not waiting.done()
    assert len(client.sent) >= 2 and all(sent == {"type": "heartbeat"} for sent in client.sent)

    client.gone.set()  # the console closed: the waiting call ends at once, without an event
    assert await asyncio.wait_for(waiting, timeout=2) is None
    assert await socket.next_event() is None
    await socket.close()
