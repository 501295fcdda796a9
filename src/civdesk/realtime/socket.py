"""A websocket fed from a bus subscription: heartbeats, pings, and noticing at once when the client leaves."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

HEARTBEAT_SECONDS = 25.0
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

    async def _read_client(self) -> None:
        with contextlib.suppress(WebSocketDisconnect, RuntimeError):
            while True:
                text = await self._websocket.receive_text()
                if text.strip() in ('{"type":"ping"}', '{"type": "ping"}', "ping"):
                    await self._websocket.send_json({"type": "pong"})

    async def next_event(self) -> dict[str, Any] | None:
        """The next bus event, or None once the client has gone; sends heartbeats while idle."""
        # An event already queued is taken at once. Waiting for it (a getter task, asyncio.wait) costs
        # several turns of the event loop per event: when webhooks keep the loop busy, the socket then
        # fell behind the events and its queue grew (bench/ingest.py: bursts of messages 300 ms late on
        # the agent's socket while their webhooks were answered in 30 ms).
        with contextlib.suppress(asyncio.QueueEmpty):
            return self._live.get_nowait()
        while True:
            getter = asyncio.create_task(self._live.get())
            done, _ = await asyncio.wait(
                {getter, self._reader}, timeout=self._heartbeat, return_when=asyncio.FIRST_COMPLETED
            )
            if getter in done:
                return getter.result()
            getter.cancel()
            if self._reader in done:
                return None
            await self._websocket.send_json({"type": "heartbeat"})

    def drain(self) -> None:
        """Drops queued events (the caller re-reads the database anyway)."""
        with contextlib.suppress(asyncio.QueueEmpty):
            while True:
                self._live.get_nowait()

    async def close(self) -> None:
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
            await self._reader
