"""Events are recorded with the change and published only after the transaction commits."""

from __future__ import annotations

import logging
from typing import Any, cast

from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from civdesk.core.clock import now
from civdesk.db import writes
from civdesk.db.session import connection_of
from civdesk.realtime import bus as bus_module
from civdesk.realtime.models import EventRecord

log = logging.getLogger(__name__)
_PENDING = "civdesk_pending_events"
_PENDING_TOPICS = "civdesk_pending_topics"


_events = cast(Table, EventRecord.__table__)


def emit(*, session: AsyncSession, agency_id: int, type: str, payload: dict[str, Any]) -> None:
    """Records an event in this transaction; `commit` writes and publishes it once the data is durable."""
    session.info.setdefault(_PENDING, []).append({"agency_id": agency_id, "type": type, "payload": payload})


def notify_after_commit(*, session: AsyncSession, topic: str) -> None:
    """Wakes subscribers of a topic (e.g. delivery workers) after commit, with no stored event."""
    session.info.setdefault(_PENDING_TOPICS, set()).add(topic)


async def commit(session: AsyncSession) -> None:
    """Writes the emitted events into the transaction, commits, then publishes them: never an event
    for rolled-back data, and never a committed change whose event is missing from the log."""
    pending: list[dict[str, Any]] = session.info.pop(_PENDING, [])
    messages: list[dict[str, Any]] = []
    stamp = now()
    ids: list[int] = []
    if pending:
        conn = await connection_of(session)
        rows = [event | {"created_at": stamp} for event in pending]
        # On PostgreSQL the transaction's pending writes (the citizen's message …) travel with the events.
        # Nothing follows it but COMMIT when the ORM has nothing to flush.
        # (Not in a savepoint: its end is a RELEASE, not the COMMIT that would travel with the events.)
        last = not (session.new or session.dirty or session.deleted or session.in_nested_transaction())
        ids = await writes.insert_with_pending(conn, [writes.inserting(_events, row) for row in rows], then_commit=last)
    for event, event_id in zip(pending, ids, strict=True):
        messages.append(
            {
                "id": event_id,
                "type": event["type"],
                "agency_id": event["agency_id"],
                "created_at": stamp.isoformat(),
                "payload": event["payload"],
            }
        )
    await session.commit()
    topics: set[str] = session.info.pop(_PENDING_TOPICS, set())
    bus = bus_module.current()
    try:
        for message in messages:
            await bus.publish(bus_module.agency_topic(message["agency_id"]), message)
        for topic in topics:
            await bus.publish(topic, {"type": "wake"})
    except Exception:
        # The data is committed and the events are in the log: consoles catch up on resume.
        log.warning("publishing events failed after commit", exc_info=True)


async def discard(session: AsyncSession) -> None:
    await session.rollback()
    session.info.pop(_PENDING, None)
    session.info.pop(_PENDING_TOPICS, None)


async def events_after(
    *, session: AsyncSession, agency_id: int, after_id: int, limit: int = 500
) -> list[dict[str, Any]]:
    """The agency's events with ids above a client's cursor, oldest first (for resume)."""
    rows = await session.scalars(
        select(EventRecord)
        .where(EventRecord.agency_id == agency_id, EventRecord.id > after_id)
        .order_by(EventRecord.id)
        .limit(limit)
    )
    return [row.as_message() for row in rows]


async def count_after(*, session: AsyncSession, agency_id: int, after_id: int, limit: int) -> int:
    """How many of the agency's events lie after a cursor, counting no further than `limit`."""
    newer = (
        select(EventRecord.id)
        .where(EventRecord.agency_id == agency_id, EventRecord.id > after_id)
        .limit(limit)
        .subquery()
    )
    return int(await session.scalar(select(func.count()).select_from(newer)) or 0)


async def latest_event_id(*, session: AsyncSession, agency_id: int) -> int:
    row = await session.scalar(
        select(EventRecord.id).where(EventRecord.agency_id == agency_id).order_by(EventRecord.id.desc()).limit(1)
    )
    return row or 0
