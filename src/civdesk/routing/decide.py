"""Routing decisions, made in workers: each holds the conversation's row lock while it decides.

`route` fires as soon as a conversation joins a queue; `drain` serves an agency's queue in priority,
then arrival, order whenever capacity may have freed up; `reassign` and `agent_offline` move a
conversation whose agent does not answer or has gone. Every decision is recorded with its reason.
"""

from __future__ import annotations

import enum
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from civdesk.agency import hours
from civdesk.conversation import automatic, publish
from civdesk.conversation.models import Conversation, Status
from civdesk.core import events
from civdesk.core.clock import now
from civdesk.realtime import service as realtime_service
from civdesk.routing import assign, messages
from civdesk.routing import config as routing_config
from civdesk.routing.config import AgencyRouting
from civdesk.routing.models import Strategy
from civdesk.timer import service as timer_service
from civdesk.timer.service import ClaimedTimer

ROUTE = "route"
DRAIN = "drain"
REASSIGN = "reassign"
AGENT_OFFLINE = "agent_offline"
DRAIN_BATCH = 100
RETRY_CONTENDED = timedelta(seconds=0.2)


class Routed(enum.Enum):
    ASSIGNED = "assigned"
    QUEUED = "queued"  # nobody eligible with room
    RETRY = "retry"  # the eligible were busy being given others: a new look is scheduled
    CLOSED = "closed"
    MANUAL = "manual"


def _routable(row: Any) -> bool:
    return (
        row is not None and row.status != Status.RESOLVED.value and row.assignee_id is None and not row.triage_pending
    )


async def route_one(
    *,
    session: AsyncSession,
    cfg: AgencyRouting,
    row: Any,
    exclude: Collection[int] = (),
    notify: bool = False,
    why: str = "",
    choice: assign.Choice | None = None,
) -> Routed:
    """One decision for a locked, routable conversation. `choice`: made already, with the lock, the
    agency open a moment before (`assign.lock_and_choose`); its claim, if any, stands."""
    strategy = cfg.strategy(row.topic_id)
    prefix = f"{why}; " if why else ""
    if choice is None:
        if not hours.is_open(cfg.calendar, now()):
            await drain_at_opening(session=session, cfg=cfg, after=now())
            await assign.requeue(session=session, conversation_id=row.id)
            return Routed.CLOSED
        if strategy == Strategy.MANUAL.value:
            if notify:
                await _waiting(
                    session=session,
                    cfg=cfg,
                    row=row,
                    strategy=strategy,
                    reason=prefix + "manual pull: waits for an agent to take it",
                )
            return Routed.MANUAL
        choice = await assign.choose(
            session=session,
            cfg=cfg,
            topic_id=row.topic_id,
            language=row.language,
            strategy=strategy,
            exclude=exclude,
            sticky_to=row.last_helper_id if row.last_helper_id not in exclude else None,
        )
    ranking = choice.ranking
    if choice.chosen is not None:
        rule = (
            "least loaded among the skilled and online"
            if strategy == Strategy.BALANCED.value
            else "longest since their last assignment (round robin)"
        )
        await _assigned(
            session=session,
            cfg=cfg,
            row=row,
            agent_id=choice.chosen.agent_id,
            strategy=strategy,
            reason=prefix + ("sticky: last helped this citizen" if choice.chosen.sticky else rule),
            ranking=ranking,
        )
        return Routed.ASSIGNED
    await assign.requeue(session=session, conversation_id=row.id)
    if choice.contended:
        # Another decision held a free agent's row at this very moment: look again in a moment.
        await timer_service.schedule(
            session=session,
            kind=ROUTE,
            due_at=now() + RETRY_CONTENDED,
            agency_id=cfg.id,
            conversation_id=row.id,
            payload={"notify": notify, "exclude": list(exclude), "why": why},
        )
        return Routed.RETRY
    if notify:
        await _waiting(
            session=session,
            cfg=cfg,
            row=row,
            strategy=strategy,
            reason=prefix + "no eligible agent online with free capacity",
            ranking=ranking,
        )
    return Routed.QUEUED


async def _waiting(
    *,
    session: AsyncSession,
    cfg: AgencyRouting,
    row: Any,
    strategy: str,
    reason: str,
    ranking: assign.Ranking | None = None,
) -> None:
    """Records why the conversation waits in the queue and, with queue notices, tells the citizen."""
    await assign.record(
        session=session,
        cfg=cfg,
        conversation_id=row.id,
        topic_id=row.topic_id,
        strategy=strategy,
        outcome="queued",
        reason=reason,
        ranking=ranking,
    )
    if cfg.queue_notices:
        await _tell_position(session=session, cfg=cfg, row=row)


async def drain_at_opening(*, session: AsyncSession, cfg: AgencyRouting, after: datetime) -> datetime | None:
    """Schedules one drain of the queue for the agency's next opening (once per opening); returns it."""
    opening = hours.next_opening(cfg.calendar, after)
    if opening is not None:
        await timer_service.schedule(
            session=session,
            kind=DRAIN,
            due_at=opening,
            agency_id=cfg.id,
            dedupe_key=f"drain:{cfg.id}:{opening.isoformat()}",
        )
    return opening


async def _assigned(
    *,
    session: AsyncSession,
    cfg: AgencyRouting,
    row: Any,
    agent_id: int,
    strategy: str,
    reason: str,
    ranking: assign.Ranking | None,
) -> None:
    await assign.set_assignee(session=session, conversation_id=row.id, agent_id=agent_id)
    await assign.record(
        session=session,
        cfg=cfg,
        conversation_id=row.id,
        topic_id=row.topic_id,
        strategy=strategy,
        outcome="assigned",
        reason=reason,
        chosen_agent_id=agent_id,
        ranking=ranking,
    )
    await schedule_reassign(
        session=session, cfg=cfg, conversation_id=row.id, topic_id=row.topic_id, agent_id=agent_id, start=now()
    )
    read = assign.read_of(row, assignee_id=agent_id, queued_at=None)
    publish.conversation_changed(
        session=session, conversation=read, types=(events.CONVERSATION_ASSIGNED, events.CONVERSATION_UPDATED)
    )


async def schedule_reassign(
    *,
    session: AsyncSession,
    cfg: AgencyRouting,
    conversation_id: int,
    topic_id: int | None,
    agent_id: int,
    start: datetime,
) -> None:
    await timer_service.schedule(
        session=session,
        kind=REASSIGN,
        due_at=start + timedelta(seconds=cfg.reassign_after(topic_id)),
        agency_id=cfg.id,
        conversation_id=conversation_id,
        agent_id=agent_id,
    )


async def _tell_position(*, session: AsyncSession, cfg: AgencyRouting, row: Any) -> None:
    queued_at = row.queued_at or now()
    position = await assign.queue_position(
        session=session, agency_id=cfg.id, topic_id=row.topic_id, priority=row.priority, queued_at=queued_at
    )
    minutes = await assign.expected_wait_minutes(session=session, cfg=cfg, topic_id=row.topic_id, position=position)
    language = row.language or cfg.primary_language
    text = (
        messages.text("queued", language, position=position, minutes=minutes)
        if minutes is not None
        else messages.text("queued_nobody", language, position=position)
    )
    read = assign.read_of(row)
    await automatic.send(session=session, conversation=read, text=text)


async def on_route(session: AsyncSession, timer: ClaimedTimer) -> None:
    assert timer.conversation_id is not None
    await route_conversation(
        session=session,
        conversation_id=timer.conversation_id,
        agency_id=timer.agency_id,
        exclude=timer.payload.get("exclude", []),
        notify=bool(timer.payload.get("notify")),
        why=timer.payload.get("why", ""),
    )


async def route_conversation(
    *,
    session: AsyncSession,
    conversation_id: int,
    agency_id: int | None,
    exclude: Collection[int] = (),
    notify: bool = False,
    why: str = "",
) -> Routed | None:
    """A route timer's decision: locks the conversation and decides, if it still waits for one (None
    when not). `agency_id`: the agency the timer was set for; while it is open, the usual case is
    decided with the lock, in one statement (`assign.lock_and_choose`)."""
    row, choice, cfg = None, None, None
    if agency_id is not None and not exclude:
        cfg = await routing_config.load(session=session, agency_id=agency_id)
        if hours.is_open(cfg.calendar, now()):
            decided = await assign.lock_and_choose(session=session, cfg=cfg, conversation_id=conversation_id)
            if decided is not None:
                row, choice = decided
    if row is None:
        row = await assign.lock_conversation(session=session, conversation_id=conversation_id)
    if not _routable(row):
        return None
    if cfg is None or cfg.id != row.agency_id:  # transferred to another agency meanwhile, say
        cfg = await routing_config.load(session=session, agency_id=row.agency_id)
    return await route_one(session=session, cfg=cfg, row=row, exclude=exclude, notify=notify, why=why, choice=choice)


async def on_drain(session: AsyncSession, timer: ClaimedTimer) -> None:
    """Serves the agency's waiting conversations in order while agents have room."""
    assert timer.agency_id is not None
    cfg = await routing_config.load(session=session, agency_id=timer.agency_id)
    ids = list(
        await session.scalars(
            select(Conversation.id)
            .where(
                Conversation.agency_id == cfg.id,
                Conversation.queued_at.is_not(None),
                Conversation.assignee_id.is_(None),
                Conversation.status != Status.RESOLVED.value,
                Conversation.triage_pending.is_(False),
            )
            .order_by(Conversation.priority.desc(), Conversation.queued_at, Conversation.id)
            .limit(DRAIN_BATCH)
        )
    )
    full: set[tuple[int | None, str | None]] = set()  # queues nobody can take more from in this drain
    assigned = 0
    for conversation_id in ids:
        row = await assign.lock_conversation(session=session, conversation_id=conversation_id)
        if not _routable(row) or (row.topic_id, row.language) in full:
            continue
        routed = await route_one(session=session, cfg=cfg, row=row)
        # Each assignment commits on its own: locks are held briefly, and a crash keeps what was done.
        await realtime_service.commit(session)
        if routed is Routed.ASSIGNED:
            assigned += 1
        elif routed is not Routed.RETRY:
            full.add((row.topic_id, row.language))
            if not hours.is_open(cfg.calendar, now()):
                return
    if len(ids) == DRAIN_BATCH and assigned:
        await kick(session=session, agency_id=cfg.id)


async def on_reassign(session: AsyncSession, timer: ClaimedTimer) -> None:
    """The agent has not answered within the set time: give the conversation to someone who can."""
    assert timer.conversation_id is not None and timer.agent_id is not None
    row = await assign.lock_conversation(session=session, conversation_id=timer.conversation_id)
    if row is None or row.status == Status.RESOLVED.value or row.assignee_id != timer.agent_id:
        return
    if row.awaiting_since is None:
        return  # answered
    cfg = await routing_config.load(session=session, agency_id=row.agency_id)
    waited = cfg.reassign_after(row.topic_id)
    await _move_away(
        session=session,
        cfg=cfg,
        row=row,
        agent_id=timer.agent_id,
        why=f"reassigned: no answer within {waited} s",
        keep_if_nobody=True,
    )


async def on_agent_offline(session: AsyncSession, timer: ClaimedTimer) -> None:
    """An agent went offline: the conversations waiting for their answer go to someone online."""
    assert timer.agent_id is not None
    ids = list(
        await session.scalars(
            select(Conversation.id).where(
                Conversation.assignee_id == timer.agent_id,
                Conversation.status != Status.RESOLVED.value,
                Conversation.awaiting_since.is_not(None),
            )
        )
    )
    for conversation_id in ids:
        row = await assign.lock_conversation(session=session, conversation_id=conversation_id)
        if row is None or row.assignee_id != timer.agent_id or row.awaiting_since is None:
            continue
        cfg = await routing_config.load(session=session, agency_id=row.agency_id)
        await _move_away(
            session=session,
            cfg=cfg,
            row=row,
            agent_id=timer.agent_id,
            why="reassigned: the agent went offline",
            keep_if_nobody=False,
        )


async def _move_away(
    *, session: AsyncSession, cfg: AgencyRouting, row: Any, agent_id: int, why: str, keep_if_nobody: bool
) -> None:
    strategy = cfg.strategy(row.topic_id)
    others = await assign.rank(
        session=session,
        cfg=cfg,
        topic_id=row.topic_id,
        language=row.language,
        strategy=strategy,
        exclude=[agent_id],
        limit=1,
    )
    if keep_if_nobody and (others.eligible_count == 0 or strategy == Strategy.MANUAL.value):
        await assign.record(
            session=session,
            cfg=cfg,
            conversation_id=row.id,
            topic_id=row.topic_id,
            strategy=strategy,
            outcome="kept",
            reason=f"{why}, but nobody else is eligible",
            chosen_agent_id=agent_id,
            ranking=others,
        )
        await schedule_reassign(
            session=session, cfg=cfg, conversation_id=row.id, topic_id=row.topic_id, agent_id=agent_id, start=now()
        )
        return
    await assign.release(session=session, agent_id=agent_id)
    await assign.requeue(session=session, conversation_id=row.id)
    unassigned = await assign.lock_conversation(session=session, conversation_id=row.id)
    if await route_one(session=session, cfg=cfg, row=unassigned, exclude=[agent_id], why=why) is not Routed.ASSIGNED:
        await assign.record(
            session=session,
            cfg=cfg,
            conversation_id=row.id,
            topic_id=row.topic_id,
            strategy=strategy,
            outcome="queued",
            reason=f"{why}; back in the queue",
            ranking=others,
        )
        read = await automatic.conversation_read(session=session, conversation_id=row.id)
        publish.conversation_changed(
            session=session, conversation=read, types=(events.CONVERSATION_ASSIGNED, events.CONVERSATION_UPDATED)
        )


async def kick(*, session: AsyncSession, agency_id: int) -> None:
    """Someone may take waiting conversations now: drain the agency's queue once, soon."""
    await timer_service.schedule(
        session=session, kind=DRAIN, due_at=now(), agency_id=agency_id, dedupe_key=f"drain:{agency_id}"
    )
