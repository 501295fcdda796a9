"""What supervisors read about routing: a conversation's decisions, the queues, and the bounce index.

The bounce index counts what the minister called "футболити": transfers and repeat contacts per
resolved case. A transfer counts against whoever sent it (agent, topic, agency it left); a repeat
contact (the same citizen on the same topic within 10 working days) counts against the case it
repeats, i.e. the agent who resolved it, its topic and its agency.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from civdesk.agency.models import Topic
from civdesk.agent.models import Agent
from civdesk.agent.service import AgentIdentity
from civdesk.conversation import service as conversation_service
from civdesk.conversation.models import Conversation, Status
from civdesk.core.clock import as_utc, now
from civdesk.core.errors import InvalidInput
from civdesk.routing.admin import require_supervisor
from civdesk.routing.models import RoutingDecision, SlaBreach, Transfer
from civdesk.routing.schemas import (
    BounceRow,
    BreachRead,
    DecisionRead,
    QueueRead,
    RoutingHistory,
    TransferRead,
)


async def history(*, session: AsyncSession, who: AgentIdentity, conversation_id: int) -> RoutingHistory:
    await conversation_service.get(session=session, who=who, conversation_id=conversation_id)
    decisions = await session.scalars(
        select(RoutingDecision).where(RoutingDecision.conversation_id == conversation_id).order_by(RoutingDecision.id)
    )
    transfers = await session.scalars(
        select(Transfer).where(Transfer.conversation_id == conversation_id).order_by(Transfer.id)
    )
    breaches = await session.scalars(
        select(SlaBreach).where(SlaBreach.conversation_id == conversation_id).order_by(SlaBreach.id)
    )
    return RoutingHistory(
        decisions=[DecisionRead.model_validate(d) for d in decisions],
        transfers=[TransferRead.model_validate(t) for t in transfers],
        breaches=[BreachRead.model_validate(b) for b in breaches],
    )


async def queues(*, session: AsyncSession, who: AgentIdentity) -> list[QueueRead]:
    """Waiting conversations per topic, and the longest wait, for the supervisor's wall."""
    rows = (
        await session.execute(
            select(Conversation.topic_id, func.count(), func.min(Conversation.queued_at))
            .where(
                Conversation.agency_id == who.agency_id,
                Conversation.queued_at.is_not(None),
                Conversation.assignee_id.is_(None),
                Conversation.status != Status.RESOLVED.value,
            )
            .group_by(Conversation.topic_id)
        )
    ).all()
    moment = now()
    return [
        QueueRead(
            topic_id=topic_id,
            waiting=count,
            longest_wait_seconds=(moment - as_utc(oldest)).total_seconds() if oldest is not None else None,
        )
        for topic_id, count, oldest in sorted(rows, key=lambda r: (r[0] is None, r[0] or 0))
    ]


async def breaches(
    *, session: AsyncSession, who: AgentIdentity, since: datetime | None, limit: int
) -> list[BreachRead]:
    require_supervisor(who)
    query = select(SlaBreach).where(SlaBreach.agency_id == who.agency_id)
    if since is not None:
        query = query.where(SlaBreach.breached_at >= since)
    rows = await session.scalars(query.order_by(SlaBreach.id.desc()).limit(limit))
    return [BreachRead.model_validate(b) for b in rows]


async def bounce_index(
    *, session: AsyncSession, who: AgentIdentity, by: str, since: datetime | None, until: datetime | None
) -> tuple[datetime, datetime, list[BounceRow]]:
    require_supervisor(who)
    until = until or now()
    since = since or until - timedelta(days=30)
    if by not in ("agent", "topic", "agency"):
        raise InvalidInput("by must be agent, topic or agency", "групування: agent, topic або agency")
    resolved_key = {
        "agent": Conversation.assignee_id,
        "topic": Conversation.topic_id,
        "agency": Conversation.agency_id,
    }[by]
    transfer_key = {
        "agent": Transfer.from_agent_id,
        "topic": Transfer.from_topic_id,
        "agency": Transfer.from_agency_id,
    }[by]
    in_window = (Conversation.resolved_at >= since) & (Conversation.resolved_at < until)
    resolved = dict(
        (
            await session.execute(
                select(resolved_key, func.count())
                .where(Conversation.agency_id == who.agency_id, Conversation.status == Status.RESOLVED.value, in_window)
                .group_by(resolved_key)
            )
        ).all()
    )
    transfers = dict(
        (
            await session.execute(
                select(transfer_key, func.count())
                .where(
                    Transfer.from_agency_id == who.agency_id, Transfer.created_at >= since, Transfer.created_at < until
                )
                .group_by(transfer_key)
            )
        ).all()
    )
    earlier = aliased(Conversation)
    repeat_key = {"agent": earlier.assignee_id, "topic": earlier.topic_id, "agency": earlier.agency_id}[by]
    repeats = dict(
        (
            await session.execute(
                select(repeat_key, func.count())
                .select_from(Conversation)
                .join(earlier, earlier.id == Conversation.repeat_of_id)
                .where(
                    earlier.agency_id == who.agency_id,
                    Conversation.created_at >= since,
                    Conversation.created_at < until,
                )
                .group_by(repeat_key)
            )
        ).all()
    )
    labels = await _labels(session=session, who=who, by=by)
    rows = []
    for key in sorted(set(resolved) | set(transfers) | set(repeats), key=lambda k: (k is None, k or 0)):
        done, moved, again = resolved.get(key, 0), transfers.get(key, 0), repeats.get(key, 0)
        rows.append(
            BounceRow(
                key=key,
                label=labels.get(key, "—" if key is None else str(key)),
                resolved=done,
                transfers=moved,
                repeats=again,
                bounce_index=round((moved + again) / done, 3) if done else None,
            )
        )
    return since, until, rows


async def _labels(*, session: AsyncSession, who: AgentIdentity, by: str) -> dict[int | None, str]:
    if by == "agent":
        rows = await session.execute(select(Agent.id, Agent.name).where(Agent.agency_id == who.agency_id))
    elif by == "topic":
        rows = await session.execute(select(Topic.id, Topic.name).where(Topic.agency_id == who.agency_id))
    else:
        return {who.agency_id: "agency"}
    return {key: name for key, name in rows.all()}
