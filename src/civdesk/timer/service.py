"""Scheduling, cancelling and claiming timers. Callers add timers to their own transaction."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from civdesk.core.clock import now
from civdesk.db import writes
from civdesk.db.session import connection_of
from civdesk.realtime import bus as bus_module
from civdesk.realtime import service as realtime_service
from civdesk.timer.models import Timer, TimerStatus

_timer = cast(Table, Timer.__table__)
# Timers due this soon wake the workers right after commit instead of at their next look.
_WAKE_WITHIN = timedelta(seconds=1)
# With a dedupe key, a pending timer of the same key wins (the key is unique while pending).
_INSERT_DEDUPED = {
    dialect.dialect.name: dialect.insert(_timer).on_conflict_do_nothing(index_elements=["dedupe_key"])
    for dialect in (postgresql, sqlite)
}


@dataclass(frozen=True)
class ClaimedTimer:
    id: int
    kind: str
    due_at: datetime
    agency_id: int | None
    conversation_id: int | None
    agent_id: int | None
    attempts: int
    payload: dict[str, Any]


async def schedule(
    *,
    session: AsyncSession,
    kind: str,
    due_at: datetime,
    agency_id: int | None = None,
    conversation_id: int | None = None,
    agent_id: int | None = None,
    payload: dict[str, Any] | None = None,
    dedupe_key: str | None = None,
) -> None:
    """Adds a timer to the caller's transaction. With a `dedupe_key`, a pending timer of the same key
    makes this a no-op (one queue drain per agency however many agents free up at once)."""
    values = {
        "kind": kind,
        "due_at": due_at,
        "agency_id": agency_id,
        "conversation_id": conversation_id,
        "agent_id": agent_id,
        "payload": payload or {},
        "dedupe_key": dedupe_key,
        "status": TimerStatus.PENDING.value,
        "attempts": 0,
        "created_at": now(),
    }
    if dedupe_key is None:  # on PostgreSQL it travels with the transaction's other writes
        await writes.later(await connection_of(session), writes.inserting(_timer, values))
    else:
        conn = await connection_of(session)
        await conn.execute(_INSERT_DEDUPED[conn.dialect.name], values)
    if due_at <= now() + _WAKE_WITHIN:
        realtime_service.notify_after_commit(session=session, topic=bus_module.TIMER_TOPIC)


async def cancel(*, session: AsyncSession, conversation_id: int, kinds: Iterable[str]) -> None:
    """Cancels a conversation's pending timers of these kinds (the thing they waited for happened)."""
    conn = await connection_of(session)
    await conn.execute(
        update(_timer)
        .where(
            _timer.c.conversation_id == conversation_id,
            _timer.c.status == TimerStatus.PENDING.value,
            _timer.c.kind.in_(list(kinds)),
        )
        .values(status=TimerStatus.CANCELLED.value, dedupe_key=None)
    )


_CLAIM_COLUMNS = (
    _timer.c.id,
    _timer.c.kind,
    _timer.c.due_at,
    _timer.c.agency_id,
    _timer.c.conversation_id,
    _timer.c.agent_id,
    _timer.c.attempts,
    _timer.c.payload,
)
_DUE = (
    select(*_CLAIM_COLUMNS)
    .where(
        or_(_timer.c.status == TimerStatus.PENDING.value, _timer.c.status == TimerStatus.RUNNING.value),
        _timer.c.due_at <= bindparam("moment"),
    )
    .order_by(_timer.c.status, _timer.c.due_at)
    .limit(bindparam("limit"))
    .with_for_update(skip_locked=True)
)
_LEASE = (
    update(_timer)
    .where(_timer.c.id.in_(bindparam("ids", expanding=True)))
    .values(
        status=TimerStatus.RUNNING.value,
        attempts=_timer.c.attempts + 1,
        due_at=bindparam("lease_end"),
        fired_at=func.coalesce(_timer.c.fired_at, bindparam("moment")),
    )
)


async def claim_due(*, session: AsyncSession, limit: int, lease_seconds: float) -> list[ClaimedTimer]:
    """Takes due timers. A running timer whose lease ran out (its worker died) is due again;
    SKIP LOCKED lets any number of workers share them on PostgreSQL. Core statements built once,
    and one UPDATE for the whole claim: every new conversation's route timer passes through here."""
    moment = now()
    conn = await connection_of(session)
    rows = (await conn.execute(_DUE, {"moment": moment, "limit": limit})).all()
    if not rows:
        return []
    await conn.execute(
        _LEASE,
        {"ids": [row.id for row in rows], "lease_end": moment + timedelta(seconds=lease_seconds), "moment": moment},
    )
    return [
        ClaimedTimer(
            id=row.id,
            kind=row.kind,
            # A lease that ran out reports the lease end; the original due time is what matters.
            due_at=row.due_at,
            agency_id=row.agency_id,
            conversation_id=row.conversation_id,
            agent_id=row.agent_id,
            attempts=row.attempts + 1,
            payload=dict(row.payload or {}),
        )
        for row in rows
    ]


async def finish(*, session: AsyncSession, timer_id: int) -> None:
    conn = await connection_of(session)
    await conn.execute(
        update(_timer).where(_timer.c.id == timer_id).values(status=TimerStatus.DONE.value, dedupe_key=None)
    )


async def retry(*, session: AsyncSession, timer_id: int, error: str, after_seconds: float, give_up: bool) -> None:
    conn = await connection_of(session)
    status = TimerStatus.FAILED if give_up else TimerStatus.PENDING
    await conn.execute(
        update(_timer)
        .where(_timer.c.id == timer_id)
        .values(
            status=status.value,
            last_error=error[:2000],
            due_at=now() + timedelta(seconds=after_seconds),
            dedupe_key=None if give_up else _timer.c.dedupe_key,
        )
    )


async def still_running(*, session: AsyncSession, ids: list[int]) -> list[int]:
    """Which of these claimed timers are not finished yet."""
    rows = await session.scalars(
        select(_timer.c.id).where(_timer.c.id.in_(ids), _timer.c.status == TimerStatus.RUNNING.value)
    )
    return list(rows)


async def next_due(*, session: AsyncSession) -> datetime | None:
    due: datetime | None = await session.scalar(
        select(func.min(_timer.c.due_at)).where(
            or_(_timer.c.status == TimerStatus.PENDING.value, _timer.c.status == TimerStatus.RUNNING.value)
        )
    )
    return due


async def pending(*, session: AsyncSession, conversation_id: int) -> list[Timer]:
    return list(
        await session.scalars(
            select(Timer)
            .where(Timer.conversation_id == conversation_id, Timer.status == TimerStatus.PENDING.value)
            .order_by(Timer.due_at)
        )
    )
