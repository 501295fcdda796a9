"""Response targets: first response, next response and resolution, each a timer at its due time.

A timer fires first at 80 % of the target to warn the agent, then at the target to record a breach
and tell the supervisors. When the awaited thing happens first (the agent answers, the case is
resolved) the timers are cancelled; a timer that fires anyway checks that the wait it was set for is
still the current one, so a late cancel can never produce a false breach. A clock that starts
outside working hours starts at the next opening instead.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, insert
from sqlalchemy.ext.asyncio import AsyncSession

from civdesk.agency import hours
from civdesk.conversation.models import Status
from civdesk.core import events
from civdesk.core.clock import now
from civdesk.db.session import connection_of
from civdesk.realtime import service as realtime_service
from civdesk.routing import assign
from civdesk.routing.config import AgencyRouting
from civdesk.routing.models import SlaBreach, TargetKind
from civdesk.timer import service as timer_service
from civdesk.timer.service import ClaimedTimer

RESPONSE_TIMER = "target_response"
RESOLUTION_TIMER = "target_resolution"
WARN_AT = 0.8
_breach = cast(Table, SlaBreach.__table__)


def _clock_start(cfg: AgencyRouting, since: datetime) -> datetime:
    return hours.next_opening(cfg.calendar, since) or since


async def start_response(
    *,
    session: AsyncSession,
    cfg: AgencyRouting,
    conversation_id: int,
    topic_id: int | None,
    since: datetime,
    first: bool,
) -> None:
    kind = TargetKind.FIRST_RESPONSE if first else TargetKind.NEXT_RESPONSE
    await _start(
        session=session,
        cfg=cfg,
        conversation_id=conversation_id,
        topic_id=topic_id,
        since=since,
        kind=kind,
        timer_kind=RESPONSE_TIMER,
    )


async def _start(
    *,
    session: AsyncSession,
    cfg: AgencyRouting,
    conversation_id: int,
    topic_id: int | None,
    since: datetime,
    kind: TargetKind,
    timer_kind: str,
) -> None:
    seconds = cfg.target(kind, topic_id)
    if seconds is None:
        return
    start = _clock_start(cfg, since)
    due = start + timedelta(seconds=seconds)
    await timer_service.schedule(
        session=session,
        kind=timer_kind,
        due_at=start + timedelta(seconds=seconds * WARN_AT),
        agency_id=cfg.id,
        conversation_id=conversation_id,
        payload={"target": kind.value, "since": since.isoformat(), "due": due.isoformat(), "stage": "warn"},
    )


async def start_all(
    *,
    session: AsyncSession,
    cfg: AgencyRouting,
    conversation_id: int,
    topic_id: int | None,
    created_at: datetime,
    awaiting_since: datetime | None,
    answered: bool,
    replace: bool = False,
) -> None:
    """The response clock (while the citizen waits) and the resolution clock. `replace` cancels the
    running ones first: after a transfer or a topic choice, the new topic's targets apply from the
    original waits."""
    if replace:
        await timer_service.cancel(
            session=session, conversation_id=conversation_id, kinds=(RESPONSE_TIMER, RESOLUTION_TIMER)
        )
    if awaiting_since is not None:
        await start_response(
            session=session,
            cfg=cfg,
            conversation_id=conversation_id,
            topic_id=topic_id,
            since=awaiting_since,
            first=not answered,
        )
    await _start(
        session=session,
        cfg=cfg,
        conversation_id=conversation_id,
        topic_id=topic_id,
        since=created_at,
        kind=TargetKind.RESOLUTION,
        timer_kind=RESOLUTION_TIMER,
    )


async def fire(session: AsyncSession, timer: ClaimedTimer) -> None:
    assert timer.conversation_id is not None
    row = await assign.lock_conversation(session=session, conversation_id=timer.conversation_id)
    if row is None or row.status == Status.RESOLVED.value:
        return
    target = timer.payload["target"]
    if target != TargetKind.RESOLUTION.value and (
        row.awaiting_since is None or row.awaiting_since.isoformat() != timer.payload["since"]
    ):
        return  # answered meanwhile: this wait is over
    due = datetime.fromisoformat(timer.payload["due"])
    detail = {
        "conversation_id": row.id,
        "assignee_id": row.assignee_id,
        "topic_id": row.topic_id,
        "target": target,
        "due_at": due.isoformat(),
    }
    if timer.payload.get("stage") == "warn":
        realtime_service.emit(session=session, agency_id=row.agency_id, type=events.TARGET_WARNING, payload=detail)
        await timer_service.schedule(
            session=session,
            kind=timer.kind,
            due_at=due,
            agency_id=row.agency_id,
            conversation_id=row.id,
            payload=timer.payload | {"stage": "breach"},
        )
        return
    conn = await connection_of(session)
    await conn.execute(
        insert(_breach),
        {
            "agency_id": row.agency_id,
            "conversation_id": row.id,
            "topic_id": row.topic_id,
            "agent_id": row.assignee_id,
            "target": target,
            "due_at": due,
            "breached_at": now(),
        },
    )
    realtime_service.emit(session=session, agency_id=row.agency_id, type=events.TARGET_BREACHED, payload=detail)
