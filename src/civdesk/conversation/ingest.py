"""Inbound: a platform's events become the citizen's messages, in one transaction."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from civdesk.channel.models import Channel
from civdesk.channels.base import InboundEvent, InboundKind
from civdesk.contact import service as contact_service
from civdesk.contact.models import Contact
from civdesk.conversation import publish
from civdesk.conversation.models import Conversation, DeliveryStatus, Direction, Message, Status
from civdesk.conversation.publish import conversation_read
from civdesk.core import events
from civdesk.core.clock import now

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestResult:
    stored_message_ids: tuple[int, ...]
    duplicates: int
    # Button presses whose spinner the platform wants stopped, once the data is committed.
    button_queries: tuple[str, ...]


async def ingest(*, session: AsyncSession, channel: Channel, inbound: tuple[InboundEvent, ...]) -> IngestResult:
    """Stores what citizens sent; a platform key seen before is skipped, so redelivery is harmless."""
    stored: list[int] = []
    duplicates = 0
    queries: list[str] = []
    for event in inbound:
        if event.kind in (InboundKind.BLOCKED, InboundKind.UNBLOCKED):
            await _mark_reachability(session=session, channel=channel, event=event)
            continue
        if await _seen(session=session, channel_id=channel.id, platform_key=event.platform_key):
            duplicates += 1
            continue
        message = await _store(session=session, channel=channel, event=event)
        stored.append(message.id)
        if event.button_query_id:
            queries.append(event.button_query_id)
    return IngestResult(stored_message_ids=tuple(stored), duplicates=duplicates, button_queries=tuple(queries))


async def _seen(*, session: AsyncSession, channel_id: int, platform_key: str) -> bool:
    found = await session.scalar(
        select(Message.id).where(Message.channel_id == channel_id, Message.platform_key == platform_key)
    )
    return found is not None


async def _store(*, session: AsyncSession, channel: Channel, event: InboundEvent) -> Message:
    contact, identity = await contact_service.identify(
        session=session, agency_id=channel.agency_id, channel_id=channel.id, sender=event.sender
    )
    if identity.is_blocked:
        identity.is_blocked = False  # writing to us again means the bot is reachable again
    conversation, created = await _current_conversation(session=session, channel=channel, contact=contact)
    stamp = now()
    text = event.text if event.kind is InboundKind.MESSAGE else f"[{event.button_payload or ''}]"
    message = Message(
        conversation_id=conversation.id,
        agency_id=channel.agency_id,
        channel_id=channel.id,
        direction=Direction.IN.value,
        text=text,
        attachments=[dict(a) for a in event.attachments],
        platform_key=event.platform_key,
        delivery_status=DeliveryStatus.RECEIVED.value,
        created_at=stamp,
    )
    session.add(message)
    conversation.last_message_at = stamp
    reopened = conversation.status == Status.PENDING.value
    if reopened:
        conversation.status = Status.OPEN.value
    await session.flush()
    read = conversation_read(conversation, channel_type=channel.type, contact_name=contact.display_name)
    if created:
        publish.conversation_changed(session=session, conversation=read, types=(events.CONVERSATION_CREATED,))
    elif reopened:
        publish.conversation_changed(session=session, conversation=read, types=(events.CONVERSATION_UPDATED,))
    publish.message_created(session=session, message=message, conversation=read)
    return message


async def _current_conversation(
    *, session: AsyncSession, channel: Channel, contact: Contact
) -> tuple[Conversation, bool]:
    """The citizen's unresolved conversation on this channel, or a new one."""
    conversation = await session.scalar(
        select(Conversation)
        .where(
            Conversation.contact_id == contact.id,
            Conversation.channel_id == channel.id,
            Conversation.status != Status.RESOLVED.value,
        )
        .order_by(Conversation.id.desc())
        .limit(1)
    )
    if conversation is not None:
        return conversation, False
    conversation = Conversation(
        agency_id=channel.agency_id,
        channel_id=channel.id,
        contact_id=contact.id,
        status=Status.OPEN.value,
    )
    session.add(conversation)
    await session.flush()
    return conversation, True


async def _mark_reachability(*, session: AsyncSession, channel: Channel, event: InboundEvent) -> None:
    _, identity = await contact_service.identify(
        session=session, agency_id=channel.agency_id, channel_id=channel.id, sender=event.sender
    )
    identity.is_blocked = event.kind is InboundKind.BLOCKED
    log.info("channel %s: citizen %s %s the bot", channel.id, identity.contact_id, event.kind.value)
