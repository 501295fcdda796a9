"""The agents' websocket: replay from the client's cursor, then live events, no gap between.

Protocol: connect to /api/v1/ws?token=<bearer>[&last_event_id=N]; a bad token is closed with 4401.
Without a cursor the server says {"type":"hello","last_event_id":M}; with one it first replays every event after N. Each
event carries an increasing "id"; a client that reconnects with the last id it saw loses nothing.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from civdesk.agent.service import identity_from_token
from civdesk.core.errors import Unauthorized
from civdesk.realtime import bus as bus_module
from civdesk.realtime import service as realtime_service
from civdesk.realtime.socket import LiveSocket, refuse

router = APIRouter()


@router.websocket("/api/v1/ws")
async def agent_events(websocket: WebSocket) -> None:
    settings = websocket.app.state.settings
    try:
        who = identity_from_token(token=websocket.query_params.get("token", ""), secret_key=settings.secret_key)
    except Unauthorized:
        await refuse(websocket, "invalid token")
        return
    cursor_param = websocket.query_params.get("last_event_id")
    await websocket.accept()
    # Subscribe before reading the log, so an event committed in between is caught by one or the other.
    async with bus_module.current().subscribe(bus_module.agency_topic(who.agency_id)) as live:
        sent: set[int] = set()
        async with websocket.app.state.sessionmaker() as session:
            if cursor_param is None or not cursor_param.isdigit():
                latest = await realtime_service.latest_event_id(session=session, agency_id=who.agency_id)
                await websocket.send_json({"type": "hello", "last_event_id": latest})
            else:
                cursor = int(cursor_param)
                while True:
                    batch = await realtime_service.events_after(
                        session=session, agency_id=who.agency_id, after_id=cursor
                    )
                    for event in batch:
                        await websocket.send_text(json.dumps(event))
                        sent.add(event["id"])
                        cursor = event["id"]
                    if len(batch) < 500:
                        break
                await websocket.send_json({"type": "replayed", "last_event_id": cursor})
        await _pump(websocket, live, sent)


async def _pump(websocket: WebSocket, live: asyncio.Queue[dict[str, Any]], sent: set[int]) -> None:
    socket = LiveSocket(websocket, live)
    try:
        while (event := await socket.next_event()) is not None:
            if event.get("id") in sent:
                continue  # already replayed from the log
            await websocket.send_text(json.dumps(event))
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        await socket.close()
