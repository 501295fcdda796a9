"""Events are recorded with the change and published only after the transaction commits."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from civdesk.realtime import bus as bus_module
from civdesk.realtime.models import EventRecord

log = logging.getLogger(__name__)
_PENDING = "civdesk_pending_events"
_PENDING_TOPICS = "civdesk_pending_topics"


def emit(*, session: AsyncSession, agency_id: int, type: str, payload: dict[str, Any]) -> None:
    """Records an event in this transaction; `commit` publishes it once the data is durable."""
    record = EventRecord(agency_id=agency_id, type=type, payload=payload)
    session.add(record)
    session.info.setdefault(_PENDING, []).append(record)


def notify_after_commit(*, session: AsyncSession, topic: str) -> None:
    """Wakes subscribers of a topic (e.g. delivery workers) after commit, with no stored event."""
    session.info.setdefault(_PENDING_TOPICS, set()).add(topic)


async def commit(session: AsyncSession) -> None:
    """Commits, then publishes what the transaction emitted: never an event for rolled-back data."""
    await session.commit()
    records: list[EventRecord] = session.info.pop(_PENDING, [])
    topics: set[str] = session.info.pop(_PENDING_TOPICS, set())
    bus = bus_module.current()
    try:
        for record in records:
            await bus.publish(bus_module.agency_topic(record.agency_id), record.as_message())
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


async def latest_event_id(*, session: AsyncSession, agency_id: int) -> int:
    row = await session.scalar(
        select(EventRecord.id).where(EventRecord.agency_id == agency_id).order_by(EventRecord.id.desc()).limit(1)
    )
    return row or 0
