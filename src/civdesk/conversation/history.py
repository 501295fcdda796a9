"""The citizen's whole history: every conversation of every contact known to be the same person,
on any channel, within the agent's agency only."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from civdesk.agent.service import AgentIdentity
from civdesk.audit import service as audit_service
from civdesk.channel.models import Channel
from civdesk.contact import service as contact_service
from civdesk.contact.models import Contact
from civdesk.conversation.models import Conversation, Message
from civdesk.conversation.schemas import HistoryItem, HistoryPage
from civdesk.core.errors import NotFound
from civdesk.knowledge.models import ResolutionCode

HISTORY_LIMIT = 200


async def of_conversation(*, session: AsyncSession, who: AgentIdentity, conversation_id: int) -> HistoryPage:
    """Newest first, the given conversation included. Listing them shows personal data (dates,
    channels, outcomes), so it is audited like a transcript view."""
    conversation = await session.get(Conversation, conversation_id)
    if conversation is None or conversation.agency_id != who.agency_id:
        raise NotFound(f"no conversation {conversation_id}", f"розмови {conversation_id} немає")
    contact = await contact_service.get(session=session, contact_id=conversation.contact_id)
    contact_ids = (
        [conversation.contact_id]
        if contact is None
        else await contact_service.contacts_of_person(session=session, contact=contact)
    )
    counts = (
        select(Message.conversation_id, func.count(Message.id).label("n"))
        .where(Message.agency_id == who.agency_id, Message.direction != "note")
        .group_by(Message.conversation_id)
        .subquery()
    )
    rows = await session.execute(
        select(Conversation, Channel.type, Contact.display_name, ResolutionCode.title, counts.c.n)
        .join(Channel, Channel.id == Conversation.channel_id)
        .join(Contact, Contact.id == Conversation.contact_id)
        .outerjoin(ResolutionCode, ResolutionCode.id == Conversation.resolution_code_id)
        .outerjoin(counts, counts.c.conversation_id == Conversation.id)
        # The agency filter again, though linking never crosses agencies: isolation holds even then.
        .where(Conversation.agency_id == who.agency_id, Conversation.contact_id.in_(contact_ids))
        .order_by(Conversation.id.desc())
        .limit(HISTORY_LIMIT)
    )
    items = [
        HistoryItem(
            id=c.id,
            channel_type=channel_type,
            contact_id=c.contact_id,
            contact_name=name,
            status=c.status,
            created_at=c.created_at,
            resolved_at=c.resolved_at,
            last_message_at=c.last_message_at,
            resolution_code=code,
            message_count=n or 0,
        )
        for c, channel_type, name, code, n in rows
    ]
    audit_service.record(
        session=session,
        action="contact.history.view",
        subject_type="conversation",
        subject_id=conversation_id,
        agency_id=who.agency_id,
        actor_agent_id=who.agent_id,
        detail={"contact_ids": contact_ids, "count": len(items)},
    )
    return HistoryPage(items=items)
