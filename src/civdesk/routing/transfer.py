"""Transfers: to an agent, a topic or another agency, always with a note, and with the whole history.

The conversation moves as it is: its messages stay in it, so whoever receives it reads everything.
Across agencies, the receiving agency must accept transfers from the sending one, and a complaint
can never go to the agency it is about. The citizen is told where the question went and why; the
note is also kept as an internal note for the receiving side. Each transfer is a row (the bounce
index counts them) and bumps the conversation's `transfer_count`.
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table, insert, update
from sqlalchemy.ext.asyncio import AsyncSession

from civdesk.agency import service as agency_service
from civdesk.agent import service as agent_service
from civdesk.agent.service import AgentIdentity
from civdesk.conversation import automatic, publish
from civdesk.conversation import service as conversation_service
from civdesk.conversation.models import Conversation, Direction, Message, Status
from civdesk.conversation.schemas import ConversationRead
from civdesk.core import events
from civdesk.core.clock import now
from civdesk.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from civdesk.db.session import connection_of
from civdesk.realtime import service as realtime_service
from civdesk.routing import assign, decide, messages, targets
from civdesk.routing import config as routing_config
from civdesk.routing import service as routing_service
from civdesk.routing.models import Transfer, TransferPartner
from civdesk.timer import service as timer_service

_transfer = cast(Table, Transfer.__table__)
_message = cast(Table, Message.__table__)
MIN_NOTE = 5


class ComplaintGuard(Conflict):
    code = "complaint_guard"


async def transfer(
    *,
    session: AsyncSession,
    who: AgentIdentity,
    conversation_id: int,
    note: str,
    to_agent_id: int | None = None,
    to_topic_id: int | None = None,
    to_agency_slug: str | None = None,
) -> ConversationRead:
    note = note.strip()
    if len(note) < MIN_NOTE:
        raise InvalidInput(
            "a transfer needs a note saying why (5 characters at least)",
            "передача потребує примітки з причиною (щонайменше 5 символів)",
        )
    if (to_agent_id is not None) + (to_agency_slug is not None) + (to_topic_id is not None and not to_agency_slug) != 1:
        raise InvalidInput(
            "give one destination: an agent, a topic, or an agency (with an optional topic)",
            "вкажіть одне призначення: працівника, тему або відомство (з темою за бажанням)",
        )
    before = await conversation_service.get(session=session, who=who, conversation_id=conversation_id)
    if before.status == Status.RESOLVED.value:
        raise Conflict("a resolved conversation cannot be transferred", "завершену розмову не можна передати")
    conversation = await session.get(Conversation, conversation_id, with_for_update=True)
    assert conversation is not None
    source = await routing_config.load(session=session, agency_id=conversation.agency_id)
    language = conversation.language or source.primary_language
    row = {
        "conversation_id": conversation.id,
        "from_agency_id": conversation.agency_id,
        "from_topic_id": conversation.topic_id,
        "from_agent_id": conversation.assignee_id,
        "by_agent_id": who.agent_id,
        "note": note,
        "created_at": now(),
    }

    if to_agent_id is not None:
        agent = await agent_service.get(session=session, agent_id=to_agent_id)
        if agent is None or agent.agency_id != who.agency_id or not agent.is_active:
            raise NotFound(f"no agent {to_agent_id}", f"працівника {to_agent_id} немає")
        if agent.id == conversation.assignee_id:
            raise Conflict("the conversation is already with this agent", "розмова вже в цього працівника")
        await routing_service.take(
            session=session,
            conversation=conversation,
            agent_id=agent.id,
            capacity=None if who.is_supervisor else agent.capacity,
            reason=f"transferred by agent {who.agent_id}",
        )
        row |= {"to_agency_id": conversation.agency_id, "to_topic_id": conversation.topic_id, "to_agent_id": agent.id}
        told = messages.text("transferred_agent", language, note=note)
        destination = agent.name
    elif to_agency_slug is None:
        assert to_topic_id is not None
        topic = source.topic(to_topic_id)
        if topic is None:
            raise NotFound(f"no topic {to_topic_id}", f"теми {to_topic_id} немає")
        await _unassign(session=session, conversation=conversation, topic_id=topic.id, priority=topic.priority)
        row |= {"to_agency_id": conversation.agency_id, "to_topic_id": topic.id, "to_agent_id": None}
        told = messages.text("transferred_topic", language, topic=topic.title(language), note=note)
        destination = topic.title(language)
    else:
        target = await agency_service.require_by_slug(session=session, slug=to_agency_slug)
        if target.id == conversation.agency_id:
            raise InvalidInput(
                "that is this agency: transfer to a topic or an agent instead",
                "це те саме відомство: передайте на тему або працівнику",
            )
        if conversation.complaint_about_agency_id == target.id:
            raise ComplaintGuard(
                f"this is a complaint about {target.name}: it cannot be transferred there",
                f"це скарга на «{target.name}»: її не можна передати туди",
            )
        accepts = await session.get(TransferPartner, (target.id, conversation.agency_id))
        if accepts is None:
            raise Forbidden(
                f"{target.name} does not accept conversations from this agency",
                f"«{target.name}» не приймає розмов від цього відомства",
            )
        cfg = await routing_config.load(session=session, agency_id=target.id)
        topic = cfg.topic(to_topic_id) if to_topic_id is not None else None
        if to_topic_id is not None and topic is None:
            raise NotFound(f"{target.name} has no topic {to_topic_id}", f"у «{target.name}» немає теми {to_topic_id}")
        await _unassign(
            session=session,
            conversation=conversation,
            topic_id=topic.id if topic else None,
            priority=topic.priority if topic else 0,
        )
        old_agency = conversation.agency_id
        conversation.agency_id = target.id
        conversation.language = cfg.language_for(language)
        conn = await connection_of(session)
        await conn.execute(
            update(_message).where(_message.c.conversation_id == conversation.id).values(agency_id=target.id)
        )
        realtime_service.emit(
            session=session,
            agency_id=old_agency,
            type=events.CONVERSATION_TRANSFERRED,
            payload={"conversation_id": conversation.id, "to_agency_id": target.id},
        )
        row |= {"to_agency_id": target.id, "to_topic_id": topic.id if topic else None, "to_agent_id": None}
        suffix = f" ({topic.title(language)})" if topic else ""
        told = messages.text("transferred_agency", language, agency=target.name, topic=suffix, note=note)
        destination = target.name + suffix

    conversation.transfer_count = (conversation.transfer_count or 0) + 1
    await session.flush()
    conn = await connection_of(session)
    await conn.execute(insert(_transfer), row)
    read = await automatic.conversation_read(session=session, conversation_id=conversation.id)
    await automatic.send(
        session=session,
        conversation=read,
        text=f"→ {destination}: {note}",
        author_agent_id=who.agent_id,
        direction=Direction.NOTE,
    )
    await automatic.send(session=session, conversation=read, text=told)
    cfg = await routing_config.load(session=session, agency_id=conversation.agency_id)
    await targets.start_all(
        session=session,
        cfg=cfg,
        conversation_id=conversation.id,
        topic_id=conversation.topic_id,
        created_at=conversation.created_at,
        awaiting_since=conversation.awaiting_since,
        answered=conversation.first_response_at is not None,
        replace=True,
    )
    if conversation.assignee_id is None:
        await routing_service.enqueue(
            session=session,
            cfg=cfg,
            conversation=read,
            topic=cfg.topic(conversation.topic_id),
            stamp=now(),
            announce_topic=False,
        )
    types = [events.CONVERSATION_UPDATED, events.CONVERSATION_ASSIGNED]
    if read.agency_id != before.agency_id:
        types.insert(0, events.CONVERSATION_CREATED)
    publish.conversation_changed(session=session, conversation=read, types=types)
    return read


async def _unassign(*, session: AsyncSession, conversation: Conversation, topic_id: int | None, priority: int) -> None:
    await assign.release(session=session, agent_id=conversation.assignee_id)
    await timer_service.cancel(session=session, conversation_id=conversation.id, kinds=(decide.REASSIGN, decide.ROUTE))
    conversation.assignee_id = None
    conversation.assigned_at = None
    conversation.topic_id = topic_id
    conversation.priority = priority
    conversation.triage_pending = False
    conversation.queued_at = now()


async def mark_complaint(
    *, session: AsyncSession, who: AgentIdentity, conversation_id: int, about_agency_slug: str | None
) -> ConversationRead:
    """Marks (or unmarks) the conversation as a complaint about an agency: the transfer guard."""
    await conversation_service.get(session=session, who=who, conversation_id=conversation_id)
    conversation = await session.get(Conversation, conversation_id)
    assert conversation is not None
    if about_agency_slug is None:
        conversation.complaint_about_agency_id = None
    else:
        agency = await agency_service.require_by_slug(session=session, slug=about_agency_slug)
        conversation.complaint_about_agency_id = agency.id
    await session.flush()
    return await automatic.conversation_read(session=session, conversation_id=conversation_id)
