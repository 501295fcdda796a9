"""The conversation side of delivery: what to send for a message, and recording the outcome."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from civdesk.channel import service as channel_service
from civdesk.channel.models import Channel
from civdesk.contact import service as contact_service
from civdesk.conversation.models import Conversation, DeliveryStatus, Message
from civdesk.conversation.schemas import MessageRead, event_payload
from civdesk.core import events
from civdesk.realtime import service as realtime_service


@dataclass
class OutboundWork:
    message: Message
    channel: Channel
    recipient_external_id: str | None
    recipient_blocked: bool

    @property
    def already_settled(self) -> bool:
        return self.message.delivery_status in (DeliveryStatus.DELIVERED.value, DeliveryStatus.FAILED.value)


async def load(*, session: AsyncSession, message_id: int) -> OutboundWork | None:
    message = await session.get(Message, message_id)
    if message is None:
        return None
    conversation = await session.get(Conversation, message.conversation_id)
    channel = await channel_service.get(session=session, channel_id=message.channel_id)
    identity = (
        await contact_service.identity_for(session=session, contact_id=conversation.contact_id, channel_id=channel.id)
        if conversation is not None
        else None
    )
    return OutboundWork(
        message=message,
        channel=channel,
        recipient_external_id=identity.external_id if identity else None,
        recipient_blocked=bool(identity and identity.is_blocked),
    )


def _emit_status(session: AsyncSession, message: Message) -> None:
    realtime_service.emit(
        session=session,
        agency_id=message.agency_id,
        type=events.MESSAGE_DELIVERY,
        payload={"message": event_payload(MessageRead.model_validate(message))},
    )


def mark_delivered(*, session: AsyncSession, message: Message, platform_key: str | None) -> None:
    message.delivery_status = DeliveryStatus.DELIVERED.value
    message.delivery_error = None
    if platform_key:
        message.platform_key = platform_key
    _emit_status(session, message)


async def mark_failed(*, session: AsyncSession, message: Message, reason: str, recipient_unreachable: bool) -> None:
    """The agent sees why; a citizen who blocked the bot is marked so later replies say so at once."""
    message.delivery_status = DeliveryStatus.FAILED.value
    message.delivery_error = reason
    if recipient_unreachable:
        conversation = await session.get(Conversation, message.conversation_id)
        if conversation is not None:
            identity = await contact_service.identity_for(
                session=session, contact_id=conversation.contact_id, channel_id=message.channel_id
            )
            if identity is not None:
                identity.is_blocked = True
    _emit_status(session, message)


def note_retry(*, session: AsyncSession, message: Message, reason: str) -> None:
    """Still queued, but the agent can see the platform is pushing back."""
    message.delivery_error = reason
    _emit_status(session, message)
