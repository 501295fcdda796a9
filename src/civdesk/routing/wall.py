"""What the console reads for transfers and the supervisor's wall: where a conversation may be
transferred, who holds how much, and which conversations are about to miss a response target.

Everything is read within the caller's agency only: another agency's agents, load and timers never
show, and the agencies offered as transfer destinations are those that accept transfers from it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from civdesk.agency.models import Agency, Topic
from civdesk.agent.models import Agent
from civdesk.agent.service import AgentIdentity
from civdesk.contact.models import Contact
from civdesk.conversation.models import Conversation, Status
from civdesk.core.clock import as_utc, now
from civdesk.presence.models import AgentPresence
from civdesk.routing import targets
from civdesk.routing.admin import require_supervisor
from civdesk.routing.models import AgentLoad, TransferPartner
from civdesk.routing.schemas import AtRiskRead, RosterRead, TransferTargetAgency, TransferTargetItem, TransferTargets
from civdesk.timer.models import Timer, TimerStatus

AT_RISK_LIMIT = 200


async def transfer_targets(*, session: AsyncSession, who: AgentIdentity) -> TransferTargets:
    """My agency's other active agents and its topics, and the agencies that accept transfers from it."""
    agents = await session.execute(
        select(Agent.id, Agent.name, AgentPresence.status)
        .outerjoin(AgentPresence, AgentPresence.agent_id == Agent.id)
        .where(Agent.agency_id == who.agency_id, Agent.is_active.is_(True), Agent.id != who.agent_id)
        .order_by(Agent.name, Agent.id)
    )
    topics = await session.execute(
        select(Topic.id, Topic.name).where(Topic.agency_id == who.agency_id).order_by(Topic.name, Topic.id)
    )
    agencies = await session.execute(
        select(Agency.slug, Agency.name)
        .join(TransferPartner, TransferPartner.agency_id == Agency.id)
        .where(TransferPartner.from_agency_id == who.agency_id)
        .order_by(Agency.name)
    )
    return TransferTargets(
        agents=[TransferTargetItem(id=i, name=n, status=s or "offline") for i, n, s in agents.all()],
        topics=[TransferTargetItem(id=i, name=n) for i, n in topics.all()],
        agencies=[TransferTargetAgency(slug=s, name=n) for s, n in agencies.all()],
    )


async def roster(*, session: AsyncSession, who: AgentIdentity) -> list[RosterRead]:
    """Every active agent of my agency with region, presence and load (open conversations of capacity)."""
    require_supervisor(who)
    rows = await session.execute(
        select(
            Agent.id,
            Agent.name,
            Agent.role,
            Agent.region,
            Agent.capacity,
            AgentPresence.status,
            AgentLoad.open_count,
            AgentLoad.capacity,
        )
        .outerjoin(AgentPresence, AgentPresence.agent_id == Agent.id)
        .outerjoin(AgentLoad, AgentLoad.agent_id == Agent.id)
        .where(Agent.agency_id == who.agency_id, Agent.is_active.is_(True))
        .order_by(Agent.region, Agent.name, Agent.id)
    )
    return [
        RosterRead(
            agent_id=agent_id,
            name=name,
            role=role,
            region=region,
            status=status or "offline",
            open_count=open_count or 0,
            capacity=load_capacity if load_capacity is not None else capacity,
        )
        for agent_id, name, role, region, capacity, status, open_count, load_capacity in rows.all()
    ]


async def at_risk(*, session: AsyncSession, who: AgentIdentity, within_minutes: int) -> list[AtRiskRead]:
    """Open conversations of my agency whose response or resolution target is due within
    `within_minutes` or already missed, soonest first. Read from the pending target timers: each
    carries the target's due time (it fires first at 80 % of it, then at the target)."""
    require_supervisor(who)
    moment = now()
    horizon = moment + timedelta(minutes=within_minutes)
    rows = await session.execute(
        select(Timer.payload, Conversation.id, Conversation.topic_id, Conversation.assignee_id, Contact.display_name)
        .join(Conversation, Conversation.id == Timer.conversation_id)
        .join(Contact, Contact.id == Conversation.contact_id)
        .where(
            Timer.agency_id == who.agency_id,
            Conversation.agency_id == who.agency_id,
            Timer.kind.in_((targets.RESPONSE_TIMER, targets.RESOLUTION_TIMER)),
            Timer.status.in_((TimerStatus.PENDING.value, TimerStatus.RUNNING.value)),
            Conversation.status != Status.RESOLVED.value,
        )
    )
    found: dict[tuple[int, str], AtRiskRead] = {}
    for payload, conversation_id, topic_id, assignee_id, contact_name in rows.all():
        try:
            due = as_utc(datetime.fromisoformat(str(payload["due"])))
            target = str(payload["target"])
        except (KeyError, TypeError, ValueError):
            continue
        if due > horizon:
            continue
        found[(conversation_id, target)] = AtRiskRead(
            conversation_id=conversation_id,
            contact_name=contact_name,
            topic_id=topic_id,
            assignee_id=assignee_id,
            target=target,
            due_at=due,
            seconds_left=round((due - moment).total_seconds()),
            breached=due <= moment,
        )
    return sorted(found.values(), key=lambda r: (r.due_at, r.conversation_id))[:AT_RISK_LIMIT]
