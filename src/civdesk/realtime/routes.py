"""The agents' websocket: replay from the client's cursor, then live events, no gap between.

Protocol: connect to /api/v1/ws?token=<bearer>[&last_event_id=N]; a bad token is closed with 4401.
Without a cursor the server says {"type":"hello","last_event_id":M}; with one it first replays every event after N. Each
event carries an increasing "id"; a client that reconnects with the last id it saw loses nothing.
A cursor too far behind (more than MAX_REPLAY events) or ahead of the log (a restored database) gets
{"type":"reset","last_event_id":M} instead of a replay: the client reloads its lists, then goes on from M.
While a socket is open the agent's presence lease is renewed (presence.service.console_attached).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from sqlalchemy.ext.asyncio import AsyncSession

from civdesk.agent.service import identity_from_token
from civdesk.core.errors import Unauthorized
from civdesk.db.session import reading
from civdesk.presence import service as presence_service
from civdesk.realtime import bus as bus_module
from civdesk.realtime import service as realtime_service
from civdesk.realtime.socket import LiveSocket, refuse

router = APIRouter()
# Replaying more than this is slower than reloading the lists, and likely a console left for days.
MAX_REPLAY = 2000


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
        async with reading(websocket.app.state.sessionmaker) as session:
            latest = await realtime_service.latest_event_id(session=session, agency_id=who.agency_id)
            if cursor_param is None or not cursor_param.isdigit():
                await websocket.send_json({"type": "hello", "last_event_id": latest})
            elif await _too_far(session, who.agency_id, int(cursor_param), latest):
                await websocket.send_json({"type": "reset", "last_event_id": latest})
            else:
                await _replay(websocket, session, who.agency_id, int(cursor_param), sent)
        async with presence_service.console_attached(
            sessionmaker=websocket.app.state.sessionmaker, who=who, grace_seconds=settings.presence_grace_seconds
        ):
            await _pump(websocket, live, sent)


async def _too_far(session: AsyncSession, agency_id: int, cursor: int, latest: int) -> bool:
    """A cursor ahead of the log (a restored database) or too far behind it gets a reset, not a replay."""
    if cursor > latest:
        return True
    behind = await realtime_service.count_after(
        session=session, agency_id=agency_id, after_id=cursor, limit=MAX_REPLAY + 1
    )
    return behind > MAX_REPLAY


async def _replay(websocket: WebSocket, session: AsyncSession, agency_id: int, cursor: int, sent: set[int]) -> None:
    while True:
        batch = await realtime_service.events_after(session=session, agency_id=agency_id, after_id=cursor)
        for event in batch:
            await websocket.send_text(json.dumps(event))
            sent.add(event["id"])
            cursor = event["id"]
        if len(batch) < 500:
            break
    await websocket.send_json({"type": "replayed", "last_event_id": cursor})


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
