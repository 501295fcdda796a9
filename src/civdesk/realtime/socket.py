"""A websocket fed from a bus subscription: heartbeats, pings, and noticing at once when the client leaves."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

HEARTBEAT_SECONDS = 25.0
_GONE: dict[str, Any] = {}  # put on the queue when the client has gone (compared by identity)
CLOSE_UNAUTHORIZED = 4401  # sent after accept, so browsers can tell "log in again" from a network failure


async def refuse(websocket: WebSocket, reason: str) -> None:
    await websocket.accept()
    await websocket.close(code=CLOSE_UNAUTHORIZED, reason=reason)


class LiveSocket:
    def __init__(
        self, websocket: WebSocket, live: asyncio.Queue[dict[str, Any]], heartbeat_seconds: float = HEARTBEAT_SECONDS
    ) -> None:
        self._websocket = websocket
        self._live = live
        self._heartbeat = heartbeat_seconds
        self._reader = asyncio.create_task(self._read_client())
        # The client leaving wakes a waiting `next_event` through the queue it waits on.
        self._reader.add_done_callback(lambda _: live.put_nowait(_GONE))

    async def _read_client(self) -> None:
        with contextlib.suppress(WebSocketDisconnect, RuntimeError):
            while True:
                text = await self._websocket.receive_text()
                if text.strip() in ('{"type":"ping"}', '{"type": "ping"}', "ping"):
                    await self._websocket.send_json({"type": "pong"})

    async def next_event(self) -> dict[str, Any] | None:
        """The next bus event, or None once the client has gone; sends heartbeats while idle.

        An event already queued is taken at once, and an idle wait is one `queue.get()` under a timeout:
        no task per event. Every event of an agency goes to each of its agents' sockets, and a getter
        task with `asyncio.wait` cost several turns of the loop and ~21 µs of CPU per socket per event;
        when webhooks kept the loop busy, sockets fell behind their events (bench/ingest.py: bursts of
        messages 300 ms late on the agent's socket while their webhooks were answered in 30 ms)."""
        while not self._reader.done():
            try:
                event = self._live.get_nowait()
            except asyncio.QueueEmpty:
                try:
                    async with asyncio.timeout(self._heartbeat):
                        event = await self._live.get()
                except TimeoutError:
                    await self._websocket.send_json({"type": "heartbeat"})
                    continue
            return None if event is _GONE else event
        return None

    def drain(self) -> None:
        """Drops queued events (the caller re-reads the database anyway)."""
        with contextlib.suppress(asyncio.QueueEmpty):
            while True:
                self._live.get_nowait()

    async def close(self) -> None:
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
            await self._reader
