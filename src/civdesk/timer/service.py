"""Scheduling, cancelling and claiming timers. Callers add timers to their own transaction."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from civdesk.core.clock import now
from civdesk.db import writes
from civdesk.realtime import bus as bus_module
from civdesk.realtime import service as realtime_service
from civdesk.timer.models import Timer, TimerStatus

_timer = cast(Table, Timer.__table__)
# Timers due this soon wake the workers right after commit instead of at their next look.
_WAKE_WITHIN = timedelta(seconds=1)
_BATCH = "civdesk_timer_batch"
_INSERT_TIMER = insert(_timer)


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
    batch: list[dict[str, Any]] | None = session.info.get(_BATCH)
    if dedupe_key is None and batch is not None:
        batch.append(values)
    elif dedupe_key is None:  # on PostgreSQL with the transaction's other writes
        await writes.later(await session.connection(), writes.inserting(_timer, values))
    else:
        conn = await session.connection()
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        await conn.execute(dialect.insert(_timer).values(values).on_conflict_do_nothing(index_elements=["dedupe_key"]))
    if due_at <= now() + _WAKE_WITHIN:
        realtime_service.notify_after_commit(session=session, topic=bus_module.TIMER_TOPIC)


@contextlib.asynccontextmanager
async def batched(session: AsyncSession) -> AsyncIterator[None]:
    """Timers scheduled inside go in as one multi-row INSERT at the end: a new conversation starts
    up to three (response and resolution targets, the route decision), one round trip instead of three."""
    if _BATCH in session.info:  # nested: the outer scope writes them
        yield
        return
    session.info[_BATCH] = []
    try:
        yield
    except BaseException:
        session.info.pop(_BATCH, None)  # the transaction is going to roll back anyway
        raise
    await _write_batch(session)


async def _write_batch(session: AsyncSession) -> None:
    rows: list[dict[str, Any]] = session.info.pop(_BATCH, None) or []
    if not rows:
        return
    conn = await session.connection()
    if writes.combines(conn):  # with the transaction's other writes (PostgreSQL)
        for row in rows:
            await writes.later(conn, writes.inserting(_timer, row))
    else:
        await conn.execute(_INSERT_TIMER, rows)


async def cancel(*, session: AsyncSession, conversation_id: int, kinds: Iterable[str]) -> None:
    """Cancels a conversation's pending timers of these kinds (the thing they waited for happened)."""
    if session.info.get(_BATCH):  # a timer scheduled just before in a batch must be cancellable too
        await _write_batch(session)
        session.info[_BATCH] = []
    conn = await session.connection()
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
    conn = await session.connection()
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
    conn = await session.connection()
    await conn.execute(
        update(_timer).where(_timer.c.id == timer_id).values(status=TimerStatus.DONE.value, dedupe_key=None)
    )


async def retry(*, session: AsyncSession, timer_id: int, error: str, after_seconds: float, give_up: bool) -> None:
    conn = await session.connection()
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
