"""Choosing an agent, and keeping every agent's load exact.

An agent is eligible when active, online, under capacity, skilled in the conversation's topic (any
agent for the general queue) and, for a language other than the agency's first, speaking it. The
load lives in `agent_load` and changes only through `claim_capacity`/`release`, whose conditional
statements lock the agent's row: two workers deciding at once can never push an agent past capacity,
and a conversation row locked FOR UPDATE is assigned once.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Float, Table, and_, case, func, insert, literal, or_, select, update
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from civdesk.agent.models import Agent
from civdesk.conversation.models import Conversation, Status
from civdesk.core.clock import as_utc, now
from civdesk.presence.models import AgentPresence, PresenceStatus
from civdesk.routing.config import AgencyRouting
from civdesk.routing.models import AgentLanguage, AgentLoad, AgentSkill, RoutingDecision, Strategy

_load = cast(Table, AgentLoad.__table__)
_decision = cast(Table, RoutingDecision.__table__)
_conversation = cast(Table, Conversation.__table__)
CANDIDATES_RECORDED = 10


@dataclass(frozen=True)
class Candidate:
    agent_id: int
    load: int
    capacity: int
    level: int

    def as_record(self) -> dict[str, int]:
        return {"agent_id": self.agent_id, "load": self.load, "capacity": self.capacity, "level": self.level}


@dataclass(frozen=True)
class Ranking:
    candidates: tuple[Candidate, ...]
    eligible_count: int


async def rank(
    *,
    session: AsyncSession,
    cfg: AgencyRouting,
    topic_id: int | None,
    language: str | None,
    strategy: str,
    exclude: Collection[int] = (),
    only_agent_id: int | None = None,
    limit: int = CANDIDATES_RECORDED,
) -> Ranking:
    """The eligible agents, best first by the strategy, and how many there are in all."""
    load = func.coalesce(_load.c.open_count, 0)
    level = AgentSkill.level if topic_id is not None else literal(0)
    query = (
        select(Agent.id, Agent.capacity, load.label("load"), level.label("level"), func.count().over().label("total"))
        .join(AgentPresence, AgentPresence.agent_id == Agent.id)
        .outerjoin(_load, _load.c.agent_id == Agent.id)
        .where(
            Agent.agency_id == cfg.id,
            Agent.is_active.is_(True),
            AgentPresence.status == PresenceStatus.ONLINE.value,
            load < Agent.capacity,
        )
    )
    if topic_id is not None:
        query = query.join(AgentSkill, and_(AgentSkill.agent_id == Agent.id, AgentSkill.topic_id == topic_id))
    if language and language != cfg.primary_language:
        query = query.join(AgentLanguage, and_(AgentLanguage.agent_id == Agent.id, AgentLanguage.language == language))
    if exclude:
        query = query.where(Agent.id.not_in(list(exclude)))
    if only_agent_id is not None:
        query = query.where(Agent.id == only_agent_id)
    longest_idle = _load.c.last_assigned_at.asc().nulls_first()
    if strategy == Strategy.ROUND_ROBIN.value:
        query = query.order_by(longest_idle, Agent.id)
    else:  # balanced: the lightest load relative to capacity, then the most skilled, then the longest idle
        ratio = sql_cast(load, Float) / Agent.capacity
        query = query.order_by(ratio, level.desc(), longest_idle, Agent.id)
    rows = (await session.execute(query.limit(limit))).all()
    return Ranking(
        candidates=tuple(Candidate(r.id, r.load, r.capacity, r.level) for r in rows),
        eligible_count=rows[0].total if rows else 0,
    )


class Claim(enum.Enum):
    TAKEN = "taken"
    FULL = "full"
    BUSY = "busy"  # another transaction holds the agent's row right now


async def claim_capacity(
    *, session: AsyncSession, agent_id: int, agency_id: int, capacity: int | None, wait: bool = True
) -> Claim:
    """Counts one more conversation for the agent, only while under `capacity` (None: no limit, for
    an agent who chose to take one). The agent's row is locked until commit, so concurrent claims
    queue up and none can pass the capacity. Workers pass `wait=False`: a row another decision holds
    is skipped instead of waited for, so decisions never wait on each other in a cycle (deadlock)."""
    if capacity is not None and capacity <= 0:
        return Claim.FULL
    conn = await session.connection()
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    await conn.execute(
        dialect.insert(_load)
        .values(agent_id=agent_id, agency_id=agency_id, open_count=0)
        .on_conflict_do_nothing(index_elements=["agent_id"])
    )
    lock = select(_load.c.open_count).where(_load.c.agent_id == agent_id).with_for_update(skip_locked=not wait)
    row = (await conn.execute(lock)).first()
    if row is None:
        return Claim.BUSY
    if capacity is not None and row.open_count >= capacity:
        return Claim.FULL
    await conn.execute(
        update(_load)
        .where(_load.c.agent_id == agent_id)
        .values(open_count=_load.c.open_count + 1, last_assigned_at=now(), agency_id=agency_id)
    )
    return Claim.TAKEN


async def release(*, session: AsyncSession, agent_id: int | None) -> None:
    if agent_id is None:
        return
    conn = await session.connection()
    await conn.execute(
        update(_load)
        .where(_load.c.agent_id == agent_id)
        .values(open_count=case((_load.c.open_count > 0, _load.c.open_count - 1), else_=0))
    )


async def lock_conversation(*, session: AsyncSession, conversation_id: int) -> Any:
    """The conversation's routing state, locked until commit so one decision at a time touches it."""
    return (
        await session.execute(
            select(
                _conversation.c.id,
                _conversation.c.agency_id,
                _conversation.c.contact_id,
                _conversation.c.topic_id,
                _conversation.c.language,
                _conversation.c.priority,
                _conversation.c.status,
                _conversation.c.assignee_id,
                _conversation.c.assigned_at,
                _conversation.c.queued_at,
                _conversation.c.triage_pending,
                _conversation.c.awaiting_since,
                _conversation.c.first_response_at,
            )
            .where(_conversation.c.id == conversation_id)
            .with_for_update()
        )
    ).first()


async def set_assignee(*, session: AsyncSession, conversation_id: int, agent_id: int | None, queued: bool) -> None:
    moment = now()
    conn = await session.connection()
    await conn.execute(
        update(_conversation)
        .where(_conversation.c.id == conversation_id)
        .values(
            assignee_id=agent_id,
            assigned_at=moment if agent_id is not None else None,
            queued_at=(func.coalesce(_conversation.c.queued_at, moment) if queued and agent_id is None else None),
        )
    )


async def record(
    *,
    session: AsyncSession,
    cfg: AgencyRouting,
    conversation_id: int,
    topic_id: int | None,
    strategy: str,
    outcome: str,
    reason: str,
    chosen_agent_id: int | None = None,
    ranking: Ranking | None = None,
) -> None:
    conn = await session.connection()
    await conn.execute(
        insert(_decision),
        {
            "agency_id": cfg.id,
            "conversation_id": conversation_id,
            "topic_id": topic_id,
            "strategy": strategy,
            "outcome": outcome,
            "reason": reason,
            "chosen_agent_id": chosen_agent_id,
            "eligible_count": ranking.eligible_count if ranking else 0,
            "candidates": [c.as_record() for c in ranking.candidates] if ranking else [],
            "created_at": now(),
        },
    )


async def last_helper(*, session: AsyncSession, contact_id: int, agency_id: int, conversation_id: int) -> int | None:
    """Who last helped this citizen in this agency (sticky routing sends them back there)."""
    helper: int | None = await session.scalar(
        select(Conversation.assignee_id)
        .where(
            Conversation.contact_id == contact_id,
            Conversation.agency_id == agency_id,
            Conversation.id != conversation_id,
            Conversation.assignee_id.is_not(None),
        )
        .order_by(Conversation.id.desc())
        .limit(1)
    )
    return helper


async def queue_position(
    *, session: AsyncSession, agency_id: int, topic_id: int | None, priority: int, queued_at: datetime
) -> int:
    """1 for the next conversation to be served in its queue (same agency and topic)."""
    ahead: int = (
        await session.scalar(
            select(func.count())
            .select_from(Conversation)
            .where(
                Conversation.agency_id == agency_id,
                Conversation.queued_at.is_not(None),
                Conversation.assignee_id.is_(None),
                Conversation.status != Status.RESOLVED.value,
                Conversation.topic_id.is_(None) if topic_id is None else Conversation.topic_id == topic_id,
                or_(
                    Conversation.priority > priority,
                    and_(Conversation.priority == priority, Conversation.queued_at < queued_at),
                ),
            )
        )
        or 0
    )
    return ahead + 1


async def expected_wait_minutes(
    *, session: AsyncSession, cfg: AgencyRouting, topic_id: int | None, position: int
) -> int | None:
    """Position ÷ agents who could take it × the typical handling time of the last 50 cases; None
    when nobody who could take it is online (the wait then depends on when someone comes)."""
    online = (
        await rank(session=session, cfg=cfg, topic_id=topic_id, language=None, strategy="balanced", limit=1)
    ).eligible_count
    if online == 0:
        online = await _online_skilled(session=session, cfg=cfg, topic_id=topic_id)
        if online == 0:
            return None
    rows = (
        await session.execute(
            select(Conversation.assigned_at, Conversation.resolved_at)
            .where(
                Conversation.agency_id == cfg.id,
                Conversation.status == Status.RESOLVED.value,
                Conversation.assigned_at.is_not(None),
                *([Conversation.topic_id == topic_id] if topic_id is not None else []),
            )
            .order_by(Conversation.id.desc())
            .limit(50)
        )
    ).all()
    spans = [(as_utc(r.resolved_at) - as_utc(r.assigned_at)) for r in rows if r.resolved_at and r.assigned_at]
    typical = sorted(spans)[len(spans) // 2] if spans else timedelta(minutes=10)
    minutes = math.ceil(position / online) * typical.total_seconds() / 60
    return max(1, math.ceil(minutes))


async def _online_skilled(*, session: AsyncSession, cfg: AgencyRouting, topic_id: int | None) -> int:
    query = (
        select(func.count())
        .select_from(Agent)
        .join(AgentPresence, AgentPresence.agent_id == Agent.id)
        .where(
            Agent.agency_id == cfg.id, Agent.is_active.is_(True), AgentPresence.status == PresenceStatus.ONLINE.value
        )
    )
    if topic_id is not None:
        query = query.join(AgentSkill, and_(AgentSkill.agent_id == Agent.id, AgentSkill.topic_id == topic_id))
    return await session.scalar(query) or 0
