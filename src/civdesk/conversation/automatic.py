"""Messages civdesk itself sends a citizen (triage questions, queue position, hours, transfer notices).

They are outbound messages without an author, stored in the conversation like any reply, so agents
see what the citizen was told, and delivered through the same outbox. They never count as the
agency's first response.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncSession

from civdesk.channel.models import Channel
from civdesk.contact.models import Contact
from civdesk.conversation import publish
from civdesk.conversation.models import Conversation, DeliveryStatus, Direction, Message
from civdesk.conversation.schemas import ConversationRead, MessageRead
from civdesk.core.clock import now
from civdesk.db import writes
from civdesk.db.session import connection_of
from civdesk.delivery import service as delivery_service

_message = cast(Table, Message.__table__)


async def conversation_read(*, session: AsyncSession, conversation_id: int) -> ConversationRead:
    row = (
        await session.execute(
            select(Conversation, Channel.type, Contact.display_name)
            .join(Channel, Channel.id == Conversation.channel_id)
            .join(Contact, Contact.id == Conversation.contact_id)
            .where(Conversation.id == conversation_id)
        )
    ).one()
    return publish.conversation_read(row[0], channel_type=row[1], contact_name=row[2])


async def send(
    *,
    session: AsyncSession,
    conversation: ConversationRead,
    text: str,
    buttons: list[dict[str, str]] | None = None,
    author_agent_id: int | None = None,
    direction: Direction = Direction.OUT,
) -> int:
    """Stores the message with its delivery job (a note gets none) and tells the consoles after commit."""
    outbound = direction is Direction.OUT
    values: dict[str, Any] = {
        "conversation_id": conversation.id,
        "agency_id": conversation.agency_id,
        "channel_id": conversation.channel_id,
        "direction": direction.value,
        "author_agent_id": author_agent_id,
        "text": text,
        "attachments": [],
        "buttons": buttons or [],
        "template": None,
        "platform_key": None,
        "delivery_status": (DeliveryStatus.QUEUED if outbound else DeliveryStatus.NOT_APPLICABLE).value,
        "delivery_error": None,
        "created_at": now(),
    }
    conn = await connection_of(session)
    message_id = await writes.insert_now(conn, writes.inserting(_message, values))
    if outbound:
        await delivery_service.queue(session=session, message_id=message_id, channel_id=conversation.channel_id)
    publish.message_read_created(
        session=session, message=MessageRead.model_validate(values | {"id": message_id}), conversation=conversation
    )
    return message_id
