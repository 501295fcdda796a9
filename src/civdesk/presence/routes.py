from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from civdesk.deps import CurrentAgent, SessionDep
from civdesk.presence import service as presence_service
from civdesk.presence.schemas import PresenceChangePage, PresencePage, PresenceRead, PresenceUpdate
from civdesk.realtime import service as realtime_service

router = APIRouter(prefix="/api/v1/presence", tags=["presence"])


@router.get("", response_model=PresencePage)
async def team(who: CurrentAgent, session: SessionDep) -> PresencePage:
    """The caller's agency: every agent with online, away or offline; changes follow as agent.presence events."""
    return await presence_service.team(session=session, who=who)


@router.get("/me", response_model=PresenceRead)
async def mine(who: CurrentAgent, session: SessionDep) -> PresenceRead:
    return await presence_service.mine(session=session, who=who)


@router.put("/me", response_model=PresenceRead)
async def set_mine(body: PresenceUpdate, who: CurrentAgent, session: SessionDep) -> PresenceRead:
    """Online or away holds while a console is connected (websocket); without one for the grace
    period (CIVDESK_PRESENCE_GRACE_SECONDS) the agent is set offline on their behalf."""
    read = await presence_service.set_status(session=session, who=who, status=body.status)
    await realtime_service.commit(session)
    return read


@router.get("/changes", response_model=PresenceChangePage)
async def changes(
    who: CurrentAgent,
    session: SessionDep,
    agent_id: int | None = None,
    before_id: int | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> PresenceChangePage:
    """Presence history, newest first (agent activity time): supervisors see the agency, agents themselves."""
    return await presence_service.changes(session=session, who=who, agent_id=agent_id, before_id=before_id, limit=limit)
