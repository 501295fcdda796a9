"""What consoles are told about conversations and messages: one shape for every event."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from civdesk.conversation.models import Conversation, Message
from civdesk.conversation.schemas import ConversationRead, MessageRead, event_payload
from civdesk.core import events
from civdesk.realtime import service as realtime_service


def conversation_read(
    conversation: Conversation,
    *,
    channel_type: str,
    contact_name: str,
    citizen_blocked: bool = False,
    resolution_code: str | None = None,
) -> ConversationRead:
    return ConversationRead(
        citizen_blocked=citizen_blocked,
        resolution_code_id=conversation.resolution_code_id,
        resolution_code=resolution_code,
        id=conversation.id,
        agency_id=conversation.agency_id,
        channel_id=conversation.channel_id,
        channel_type=channel_type,
        contact_id=conversation.contact_id,
        contact_name=contact_name,
        topic_id=conversation.topic_id,
        assignee_id=conversation.assignee_id,
        status=conversation.status,
        created_at=conversation.created_at,
        first_response_at=conversation.first_response_at,
        resolved_at=conversation.resolved_at,
        last_message_at=conversation.last_message_at,
        language=conversation.language,
        priority=conversation.priority or 0,
        queued_at=conversation.queued_at,
        triage_pending=bool(conversation.triage_pending),
        transfer_count=conversation.transfer_count or 0,
        repeat_of_id=conversation.repeat_of_id,
        complaint_about_agency_id=conversation.complaint_about_agency_id,
    )


def conversation_changed(*, session: AsyncSession, conversation: ConversationRead, types: Iterable[str]) -> None:
    """Emits conversation.* events (created, updated, assigned) carrying the whole conversation, serialised
    once for all of them (nothing changes an event's payload after it is emitted)."""
    payload = event_payload(conversation)
    for event_type in types:
        realtime_service.emit(session=session, agency_id=conversation.agency_id, type=event_type, payload=payload)


def message_created(*, session: AsyncSession, message: Message, conversation: ConversationRead) -> MessageRead:
    """Emits message.created with the conversation it belongs to; the message must be flushed."""
    return message_read_created(session=session, message=MessageRead.model_validate(message), conversation=conversation)


def message_read_created(*, session: AsyncSession, message: MessageRead, conversation: ConversationRead) -> MessageRead:
    """message.created from an already built MessageRead (the Core ingest path has no ORM object)."""
    read = message
    realtime_service.emit(
        session=session,
        agency_id=conversation.agency_id,
        type=events.MESSAGE_CREATED,
        payload={"message": event_payload(read), "conversation": event_payload(conversation)},
    )
    return read


def emit_status(session: AsyncSession, message: Message) -> None:
    """message.delivery: the agent sees a reply move from queued to sent, delivered, read or failed."""
    realtime_service.emit(
        session=session,
        agency_id=message.agency_id,
        type=events.MESSAGE_DELIVERY,
        payload={"message": event_payload(MessageRead.model_validate(message))},
    )


def message_updated(session: AsyncSession, message: Message) -> None:
    """message.updated: e.g. an inbound message's files have been fetched and stored."""
    realtime_service.emit(
        session=session,
        agency_id=message.agency_id,
        type=events.MESSAGE_UPDATED,
        payload={"message": event_payload(MessageRead.model_validate(message))},
    )
