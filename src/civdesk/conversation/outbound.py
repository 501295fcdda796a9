"""The conversation side of delivery: what to send for a message, and recording the outcome."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from civdesk.channel import service as channel_service
from civdesk.channel.models import Channel
from civdesk.contact import service as contact_service
from civdesk.conversation import receipts
from civdesk.conversation.models import Conversation, DeliveryStatus, Direction, Message
from civdesk.conversation.publish import emit_status, message_updated


@dataclass
class OutboundWork:
    message: Message
    channel: Channel
    recipient_external_id: str | None
    recipient_blocked: bool

    @property
    def is_outbound(self) -> bool:
        return self.message.direction == Direction.OUT.value

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


async def mark_sent(*, session: AsyncSession, message: Message, platform_key: str | None, awaits_receipt: bool) -> None:
    """Accepted by the platform. Where it reports delivery later, the receipt moves it on."""
    message.delivery_status = (DeliveryStatus.SENT if awaits_receipt else DeliveryStatus.DELIVERED).value
    message.delivery_error = None
    if platform_key:
        message.platform_key = platform_key
        await receipts.apply_early(session=session, message=message)
    emit_status(session, message)


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
    emit_status(session, message)


def note_retry(*, session: AsyncSession, message: Message, reason: str) -> None:
    """Still queued, but the agent can see the platform is pushing back."""
    message.delivery_error = reason
    emit_status(session, message)


async def record_files(*, session: AsyncSession, message_id: int, updates: dict[int, dict[str, object]]) -> None:
    """Merges what the file fetch learned into the message's attachment list."""
    message = await session.get(Message, message_id)
    if message is None or not updates:
        return
    attachments = [dict(a) for a in message.attachments]
    for index, fields in updates.items():
        if index < len(attachments):
            attachments[index].update(fields)
    message.attachments = attachments  # a new list, so the JSON column is seen as changed
    message_updated(session, message)
