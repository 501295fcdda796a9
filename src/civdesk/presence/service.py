"""Presence: agents say whether they take conversations; an agent whose console is gone is set offline.

Every open console websocket renews the agent's lease (`seen_at`) every third of the grace period.
The sweeper sets offline anyone online or away whose lease is older than the grace period: a closed
tab, a lost network or a crashed web process all end the same way, and a reload within the grace
period changes nothing. Each change is a `presence_change` row, the input for agent activity time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from civdesk.agent import service as agent_service
from civdesk.agent.service import AgentIdentity
from civdesk.core import events
from civdesk.core.clock import as_utc, now
from civdesk.core.errors import Forbidden, NotFound
from civdesk.presence.models import AgentPresence, PresenceCause, PresenceChange, PresenceStatus
from civdesk.presence.schemas import (
    PresenceChangePage,
    PresenceChangeRead,
    PresencePage,
    PresenceRead,
    StatusName,
)
from civdesk.realtime import service as realtime_service
from civdesk.routing import service as routing_service

log = logging.getLogger(__name__)


def _read(agent_id: int, name: str, role: str, region: str | None, row: AgentPresence | None) -> PresenceRead:
    return PresenceRead(
        agent_id=agent_id,
        name=name,
        role=role,
        region=region,
        status=cast(StatusName, row.status if row else PresenceStatus.OFFLINE.value),
        changed_at=row.changed_at if row else None,
    )


async def team(*, session: AsyncSession, who: AgentIdentity) -> PresencePage:
    """Every active agent of the caller's agency with their presence; never another agency's."""
    agents = await agent_service.in_agency(session=session, agency_id=who.agency_id)
    rows = {
        row.agent_id: row
        for row in await session.scalars(select(AgentPresence).where(AgentPresence.agency_id == who.agency_id))
    }
    return PresencePage(items=[_read(a.id, a.name, a.role, a.region, rows.get(a.id)) for a in agents])


async def mine(*, session: AsyncSession, who: AgentIdentity) -> PresenceRead:
    agent = await agent_service.get(session=session, agent_id=who.agent_id)
    if agent is None:
        raise NotFound("agent no longer exists", "працівника вже немає")
    return _read(agent.id, agent.name, agent.role, agent.region, await session.get(AgentPresence, agent.id))


async def _change(*, session: AsyncSession, row: AgentPresence, status: str, cause: str, at: datetime) -> None:
    """Records a change on a row already updated to `status`, and tells the agency's consoles."""
    previous = row.status
    row.status = status
    row.changed_at = at
    session.add(
        PresenceChange(
            agency_id=row.agency_id, agent_id=row.agent_id, status=status, previous=previous, cause=cause, created_at=at
        )
    )
    realtime_service.emit(
        session=session,
        agency_id=row.agency_id,
        type=events.AGENT_PRESENCE,
        payload={
            "agent_id": row.agent_id,
            "status": status,
            "previous": previous,
            "cause": cause,
            "changed_at": at.isoformat(),
        },
    )
    # Online frees capacity for the queue; offline hands the agent's waiting citizens to others.
    await routing_service.presence_changed(
        session=session, agency_id=row.agency_id, agent_id=row.agent_id, status=status
    )


async def set_status(*, session: AsyncSession, who: AgentIdentity, status: str) -> PresenceRead:
    """The agent's own choice. Online or away also starts a lease: a console must connect within
    the grace period, or the sweeper sets the agent offline again."""
    row = await session.get(AgentPresence, who.agent_id)
    stamp = now()
    if row is None:
        row = AgentPresence(
            agent_id=who.agent_id, agency_id=who.agency_id, status=PresenceStatus.OFFLINE.value, changed_at=stamp
        )
        session.add(row)
    if status != PresenceStatus.OFFLINE.value:
        row.seen_at = stamp
    if row.status != status:
        await _change(session=session, row=row, status=status, cause=PresenceCause.AGENT.value, at=stamp)
    await session.flush()
    return await mine(session=session, who=who)


async def changes(
    *, session: AsyncSession, who: AgentIdentity, agent_id: int | None, before_id: int | None, limit: int
) -> PresenceChangePage:
    """The change history, newest first: supervisors see their agency's agents, agents themselves."""
    if agent_id is None and not who.is_supervisor:
        agent_id = who.agent_id
    if agent_id is not None and agent_id != who.agent_id and not who.is_supervisor:
        raise Forbidden(
            "only supervisors see colleagues' presence history", "історію присутності колег бачать лише керівники"
        )
    query = select(PresenceChange).where(PresenceChange.agency_id == who.agency_id)
    if agent_id is not None:
        query = query.where(PresenceChange.agent_id == agent_id)
    if before_id is not None:
        query = query.where(PresenceChange.id < before_id)
    rows = list(await session.scalars(query.order_by(PresenceChange.id.desc()).limit(limit + 1)))
    items = [PresenceChangeRead.model_validate(r) for r in rows[:limit]]
    return PresenceChangePage(items=items, next_before_id=items[-1].id if len(rows) > limit and items else None)


async def renew(*, session: AsyncSession, agent_id: int, agency_id: int) -> None:
    """A console of this agent is connected now. An agent without a row has never been online:
    nothing to keep alive (set_status creates the row), so no insert races with set_status."""
    await session.execute(
        update(AgentPresence)
        .where(AgentPresence.agent_id == agent_id, AgentPresence.agency_id == agency_id)
        .values(seen_at=now())
    )
    await session.commit()


async def expire(*, session: AsyncSession, grace_seconds: float) -> int:
    """Sets offline every agent whose lease ran out; the change is dated when the lease ended.
    Several sweepers may run (one per web process): the conditional update lets one of them win."""
    cutoff = now() - timedelta(seconds=grace_seconds)
    stale = list(
        await session.scalars(
            select(AgentPresence).where(
                AgentPresence.status != PresenceStatus.OFFLINE.value,
                AgentPresence.seen_at.is_not(None),
                AgentPresence.seen_at < cutoff,
            )
        )
    )
    expired = 0
    for row in stale:
        seen_at = row.seen_at
        assert seen_at is not None
        claimed = await session.execute(
            update(AgentPresence)
            .where(
                AgentPresence.agent_id == row.agent_id,
                AgentPresence.seen_at == seen_at,
                AgentPresence.status == row.status,
            )
            .values(status=PresenceStatus.OFFLINE.value)
            .execution_options(synchronize_session=False)
        )
        if getattr(claimed, "rowcount", 0) != 1:
            continue  # renewed meanwhile, or another sweeper took it
        ended = as_utc(seen_at) + timedelta(seconds=grace_seconds)
        await _change(
            session=session,
            row=row,
            status=PresenceStatus.OFFLINE.value,
            cause=PresenceCause.CONSOLE_CLOSED.value,
            at=ended,
        )
        expired += 1
    await realtime_service.commit(session)
    return expired


def renew_interval(grace_seconds: float) -> float:
    return min(max(grace_seconds / 3, 0.1), 20.0)


@contextlib.asynccontextmanager
async def console_attached(
    *, sessionmaker: async_sessionmaker[AsyncSession], who: AgentIdentity, grace_seconds: float
) -> AsyncIterator[None]:
    """Keeps the agent's lease renewed while one of their consoles is connected."""

    async def renew_forever() -> None:
        while True:
            try:
                async with sessionmaker() as session:
                    await renew(session=session, agent_id=who.agent_id, agency_id=who.agency_id)
            except Exception:  # a database hiccup must not drop the agent's socket
                log.warning("renewing presence of agent %s failed", who.agent_id, exc_info=True)
            await asyncio.sleep(renew_interval(grace_seconds))

    task = asyncio.create_task(renew_forever(), name=f"presence-{who.agent_id}")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


class PresenceSweeper:
    """Runs `expire` a few times per grace period, in every web process."""

    def __init__(self, *, sessionmaker: async_sessionmaker[AsyncSession], grace_seconds: float) -> None:
        self._sessionmaker = sessionmaker
        self._grace = grace_seconds

    async def run(self, stop: asyncio.Event) -> None:
        interval = min(max(self._grace / 4, 0.1), 10.0)
        while not stop.is_set():
            try:
                async with self._sessionmaker() as session:
                    await expire(session=session, grace_seconds=self._grace)
            except Exception:
                log.warning("presence sweep failed", exc_info=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)
