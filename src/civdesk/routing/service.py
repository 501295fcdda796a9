"""Routing a conversation from the citizen's first message to the agent who answers it.

The inbound path only writes down what is needed (topic, language, queue entry, timers) in its own
transaction; the decision itself runs in a worker as a `route` timer due at once, so any number of
workers decide in parallel, each holding the conversation's row lock. Events that free capacity
(a resolve, an agent coming online, the agency opening) schedule one `drain` of the agency's queue,
which serves waiting conversations in priority, then arrival, order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from civdesk.agency import hours
from civdesk.conversation import automatic
from civdesk.conversation.models import Conversation, Status
from civdesk.conversation.schemas import ConversationRead
from civdesk.core.clock import now
from civdesk.core.errors import Conflict
from civdesk.db.session import connection_of
from civdesk.presence.models import PresenceStatus
from civdesk.routing import assign, decide, messages, targets, triage
from civdesk.routing import config as routing_config
from civdesk.routing.config import AgencyRouting, TopicConfig
from civdesk.routing.models import Strategy
from civdesk.timer import service as timer_service

REPEAT_WORKING_DAYS = 10
_conversation = cast(Table, Conversation.__table__)


@dataclass(frozen=True)
class NewConversationPlan:
    """Routing's columns for a new conversation, and what to do once it is stored."""

    values: dict[str, Any]
    topic: TopicConfig | None
    triage: bool
    language: str


async def plan_new_conversation(
    *,
    session: AsyncSession,
    agency_id: int,
    text: str,
    button_payload: str | None,
    sender_language: str | None,
    stamp: datetime,
) -> NewConversationPlan:
    cfg = await routing_config.load(session=session, agency_id=agency_id)
    language = cfg.language_for(sender_language)
    choice = triage.match(cfg, text=text, payload=button_payload) if cfg.topics else triage.Choice()
    needs_triage = cfg.triage_enabled and bool(cfg.topics) and choice.topic is None
    topic = choice.topic
    return NewConversationPlan(
        values={
            "topic_id": topic.id if topic else None,
            "language": language,
            "priority": topic.priority if topic else 0,
            "triage_pending": needs_triage,
            "queued_at": None if needs_triage else stamp,
            "assigned_at": None,
            "awaiting_since": stamp,
            "transfer_count": 0,
            "repeat_of_id": None,
            "complaint_about_agency_id": None,
        },
        topic=topic,
        triage=needs_triage,
        language=language,
    )


async def start_new_conversation(
    *, session: AsyncSession, plan: NewConversationPlan, conversation: ConversationRead, stamp: datetime
) -> None:
    """After the first message is stored: the response clocks, then triage or the queue."""
    # The plan was made from the same cached snapshot moments ago; this is a dict lookup.
    cfg = await routing_config.load(session=session, agency_id=conversation.agency_id)
    topic_id = plan.topic.id if plan.topic else None
    await targets.start_all(
        session=session,
        cfg=cfg,
        conversation_id=conversation.id,
        topic_id=topic_id,
        created_at=stamp,
        awaiting_since=stamp,
        answered=False,
    )
    if plan.triage:
        body, buttons = triage.prompt(cfg, plan.language)
        await automatic.send(session=session, conversation=conversation, text=body, buttons=buttons)
        return
    await enqueue(
        session=session, cfg=cfg, conversation=conversation, topic=plan.topic, stamp=stamp, announce_topic=False
    )


async def citizen_wrote(
    *,
    session: AsyncSession,
    conversation: ConversationRead,
    state: Any,
    text: str,
    button_payload: str | None,
    stamp: datetime,
) -> dict[str, Any]:
    """A message on a conversation that exists: the triage answer, or the start of a new wait for a
    reply. Returns the conversation's columns to change (the caller folds them into its UPDATE)."""
    if conversation.status == Status.RESOLVED.value:
        return {}
    if state.triage_pending:
        return await _triage_answer(
            session=session, conversation=conversation, text=text, payload=button_payload, stamp=stamp
        )
    if state.awaiting_since is not None:
        return {}
    cfg = await routing_config.load(session=session, agency_id=conversation.agency_id)
    await targets.start_response(
        session=session,
        cfg=cfg,
        conversation_id=conversation.id,
        topic_id=conversation.topic_id,
        since=stamp,
        first=conversation.first_response_at is None,
    )
    if conversation.assignee_id is not None:
        await decide.schedule_reassign(
            session=session,
            cfg=cfg,
            conversation_id=conversation.id,
            topic_id=conversation.topic_id,
            agent_id=conversation.assignee_id,
            start=stamp,
        )
    return {"awaiting_since": stamp}


async def _triage_answer(
    *, session: AsyncSession, conversation: ConversationRead, text: str, payload: str | None, stamp: datetime
) -> dict[str, Any]:
    cfg = await routing_config.load(session=session, agency_id=conversation.agency_id)
    choice = triage.match(cfg, text=text, payload=payload)
    if choice.language is not None:
        body, buttons = triage.prompt(cfg, choice.language)
        await automatic.send(
            session=session,
            conversation=conversation.model_copy(update={"language": choice.language}),
            text=body,
            buttons=buttons,
        )
        return {"language": choice.language}
    topic = choice.topic
    changes: dict[str, Any] = {
        "triage_pending": False,
        "topic_id": topic.id if topic else None,
        "priority": topic.priority if topic else 0,
        "queued_at": stamp,
    }
    queued = conversation.model_copy(update=changes | {"triage_pending": False})
    if topic is not None:
        # The first-response clock was set before the topic was known: the topic's target now applies.
        await targets.start_all(
            session=session,
            cfg=cfg,
            conversation_id=conversation.id,
            topic_id=topic.id,
            created_at=conversation.created_at,
            awaiting_since=conversation.created_at,
            answered=False,
            replace=True,
        )
    await enqueue(session=session, cfg=cfg, conversation=queued, topic=topic, stamp=stamp, announce_topic=True)
    return changes


async def enqueue(
    *,
    session: AsyncSession,
    cfg: AgencyRouting,
    conversation: ConversationRead,
    topic: TopicConfig | None,
    stamp: datetime,
    announce_topic: bool,
) -> None:
    language = conversation.language or cfg.primary_language
    if topic is not None:
        await _link_repeat(session=session, cfg=cfg, conversation=conversation, topic_id=topic.id)
    if announce_topic:
        note = (
            messages.text("topic_chosen", language, topic=topic.title(language))
            if topic
            else messages.text("general_queue", language)
        )
        await automatic.send(session=session, conversation=conversation, text=note)
    if not hours.is_open(cfg.calendar, stamp):
        await _closed(session=session, cfg=cfg, conversation=conversation, stamp=stamp)
        return
    if cfg.strategy(conversation.topic_id) == Strategy.MANUAL.value and not cfg.queue_notices:
        return  # manual pull with nothing to tell the citizen: no decision to make until an agent takes it
    await timer_service.schedule(
        session=session,
        kind=decide.ROUTE,
        due_at=stamp,
        agency_id=cfg.id,
        conversation_id=conversation.id,
        payload={"notify": True},
    )


async def _closed(
    *, session: AsyncSession, cfg: AgencyRouting, conversation: ConversationRead, stamp: datetime
) -> None:
    """Outside working hours: say when we open, and drain the queue then, in arrival order."""
    language = conversation.language or cfg.primary_language
    opening = await decide.drain_at_opening(session=session, cfg=cfg, after=stamp)
    when = ""
    if opening is not None:
        local = opening.astimezone(cfg.calendar.time_zone)
        when = messages.text("closed_opening", language, when=local.strftime("%d.%m %H:%M"))
    await automatic.send(
        session=session,
        conversation=conversation,
        text=messages.text(
            "closed",
            language,
            hours=hours.describe(cfg.calendar, language),
            zone=cfg.calendar.time_zone.key,
            opening=when,
        ).replace(" .", "."),
    )


async def _link_repeat(
    *, session: AsyncSession, cfg: AgencyRouting, conversation: ConversationRead, topic_id: int
) -> None:
    """A citizen back on the same topic within 10 working days of a resolved case: a repeat contact."""
    earlier = (
        await session.execute(
            select(Conversation.id, Conversation.resolved_at)
            .where(
                Conversation.contact_id == conversation.contact_id,
                Conversation.agency_id == cfg.id,
                Conversation.topic_id == topic_id,
                Conversation.status == Status.RESOLVED.value,
                Conversation.id != conversation.id,
            )
            .order_by(Conversation.resolved_at.desc())
            .limit(1)
        )
    ).first()
    if earlier is None or earlier.resolved_at is None:
        return
    if hours.working_days_between(cfg.calendar, earlier.resolved_at, now()) <= REPEAT_WORKING_DAYS:
        conn = await connection_of(session)
        await conn.execute(
            update(_conversation).where(_conversation.c.id == conversation.id).values(repeat_of_id=earlier.id)
        )


def handlers() -> dict[str, Any]:
    return {
        decide.ROUTE: decide.on_route,
        decide.DRAIN: decide.on_drain,
        decide.REASSIGN: decide.on_reassign,
        decide.AGENT_OFFLINE: decide.on_agent_offline,
        targets.RESPONSE_TIMER: targets.fire,
        targets.RESOLUTION_TIMER: targets.fire,
    }


# ---- what agents and presence do (ORM conversation objects, in the caller's transaction) ----


async def agent_replied(*, session: AsyncSession, conversation: Conversation, agent_id: int) -> None:
    """An answer ends the citizen's wait; the first to answer an unassigned conversation owns it."""
    if conversation.awaiting_since is not None:
        conversation.awaiting_since = None
        await timer_service.cancel(
            session=session, conversation_id=conversation.id, kinds=(targets.RESPONSE_TIMER, decide.REASSIGN)
        )
    if conversation.assignee_id is None:
        await take(
            session=session, conversation=conversation, agent_id=agent_id, capacity=None, reason="answered by the agent"
        )


async def take(
    *,
    session: AsyncSession,
    conversation: Conversation,
    agent_id: int,
    capacity: int | None,
    reason: str = "taken by the agent",
) -> None:
    """An agent takes a conversation (manual pull, or a supervisor moving it with `capacity=None`)."""
    if conversation.assignee_id == agent_id:
        return
    claim = await assign.claim_capacity(
        session=session, agent_id=agent_id, agency_id=conversation.agency_id, capacity=capacity
    )
    if claim is not assign.Claim.TAKEN:
        raise Conflict(
            f"the agent is at capacity ({capacity} open conversations)",
            f"у працівника вже максимум відкритих розмов ({capacity})",
        )
    await assign.release(session=session, agent_id=conversation.assignee_id)
    await timer_service.cancel(session=session, conversation_id=conversation.id, kinds=(decide.REASSIGN, decide.ROUTE))
    conversation.assignee_id = agent_id
    conversation.assigned_at = now()
    conversation.queued_at = None
    cfg = await routing_config.load(session=session, agency_id=conversation.agency_id)
    await assign.record(
        session=session,
        cfg=cfg,
        conversation_id=conversation.id,
        topic_id=conversation.topic_id,
        strategy=cfg.strategy(conversation.topic_id),
        outcome="assigned",
        reason=reason,
        chosen_agent_id=agent_id,
    )


async def released(*, session: AsyncSession, conversation: Conversation) -> None:
    """Resolved: the agent's capacity frees up, pending timers stop, and the queue moves."""
    await assign.release(session=session, agent_id=conversation.assignee_id)
    await timer_service.cancel(
        session=session,
        conversation_id=conversation.id,
        kinds=(decide.ROUTE, decide.REASSIGN, targets.RESPONSE_TIMER, targets.RESOLUTION_TIMER),
    )
    conversation.queued_at = None
    conversation.awaiting_since = None
    await decide.kick(session=session, agency_id=conversation.agency_id)


async def presence_changed(*, session: AsyncSession, agency_id: int, agent_id: int, status: str) -> None:
    await assign.roster(
        session=session, agent_id=agent_id, agency_id=agency_id, online=status == PresenceStatus.ONLINE.value
    )
    if status == PresenceStatus.ONLINE.value:
        await decide.kick(session=session, agency_id=agency_id)
    elif status == PresenceStatus.OFFLINE.value:
        await timer_service.schedule(
            session=session,
            kind=decide.AGENT_OFFLINE,
            due_at=now(),
            agency_id=agency_id,
            agent_id=agent_id,
            dedupe_key=f"offline:{agent_id}",
        )
