"""Delivery receipts from platforms that report them (Viber, WhatsApp, Messenger)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from sqlalchemy import bindparam, delete, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from civdesk.channel.service import ChannelSnapshot
from civdesk.channels.base import InboundEvent, ReceiptStatus
from civdesk.contact.models import ContactIdentity
from civdesk.conversation.models import Conversation, DeliveryStatus, Direction, EarlyReceipt, Message
from civdesk.conversation.publish import emit_status
from civdesk.core.clock import now
from civdesk.realtime import service as realtime_service

PARKED = "civdesk_parked_receipts"

# Receipts can arrive out of order (read before delivered): a status never moves backwards.
_RANK = {
    DeliveryStatus.QUEUED.value: 0,
    DeliveryStatus.SENT.value: 1,
    DeliveryStatus.DELIVERED.value: 2,
    DeliveryStatus.READ.value: 3,
}
_TARGET = {
    ReceiptStatus.SENT: DeliveryStatus.SENT,
    ReceiptStatus.DELIVERED: DeliveryStatus.DELIVERED,
    ReceiptStatus.READ: DeliveryStatus.READ,
    ReceiptStatus.FAILED: DeliveryStatus.FAILED,
}


async def apply(*, session: AsyncSession, channel: ChannelSnapshot, event: InboundEvent) -> None:
    if event.receipt_status is None:
        return
    target = _TARGET[event.receipt_status]
    messages = await _messages_for(session=session, channel=channel, event=event)
    if not messages and event.receipt_for is not None:
        # Our send's own answer has not been recorded yet: keep the receipt for it. Receipts for
        # messages civdesk never sent (a page admin's own replies) are kept only for a day.
        session.add(
            EarlyReceipt(channel_id=channel.id, platform_key=event.receipt_for, status=target.value, error=event.error)
        )
        session.info.setdefault(PARKED, set()).add((channel.id, event.receipt_for))
        await session.execute(
            delete(EarlyReceipt).where(
                EarlyReceipt.channel_id == channel.id, EarlyReceipt.created_at < now() - timedelta(days=1)
            )
        )
    for message in messages:
        if _advance(message, target, event.error):
            emit_status(session, message)


async def apply_early(*, session: AsyncSession, message: Message) -> bool:
    """Applies receipts that arrived before the message's platform key was known; True if any did."""
    if message.platform_key is None:
        return False
    early = list(
        await session.scalars(
            select(EarlyReceipt)
            .where(EarlyReceipt.channel_id == message.channel_id, EarlyReceipt.platform_key == message.platform_key)
            .order_by(EarlyReceipt.id)
        )
    )
    changed = False
    for receipt in early:
        changed = _advance(message, DeliveryStatus(receipt.status), receipt.error) or changed
    if early:
        # By id, not ORM delete: the other side of the race may have removed them already.
        await session.execute(delete(EarlyReceipt).where(EarlyReceipt.id.in_([r.id for r in early])))
    return changed


_PARKED_FOR = (
    select(EarlyReceipt.id)
    .where(EarlyReceipt.channel_id == bindparam("channel_id"), EarlyReceipt.platform_key == bindparam("platform_key"))
    .limit(1)
)


async def any_parked(*, session: AsyncSession | AsyncConnection, channel_id: int, platform_key: str) -> bool:
    """The sender's cheap look after recording a send: is a receipt for it waiting? (The index
    ix_early_receipt_channel_key answers it.) Only then is `settle_parked` worth its transaction."""
    found = await session.scalar(_PARKED_FOR, {"channel_id": channel_id, "platform_key": platform_key})
    return found is not None


async def settle_parked(*, sessionmaker: async_sessionmaker[AsyncSession], keys: Iterable[tuple[int, str]]) -> None:
    """The second look that closes the race between a receipt and the record of its send.

    The webhook parks a receipt it cannot match; the worker, recording the send, applies parked
    receipts. Each side commits its write and then looks again in a new transaction, so whichever
    commits last sees the other's row: no receipt is left behind."""
    for channel_id, platform_key in keys:
        async with sessionmaker() as session:
            message = await session.scalar(
                select(Message).where(Message.channel_id == channel_id, Message.platform_key == platform_key)
            )
            if message is not None and await apply_early(session=session, message=message):
                emit_status(session, message)
            await realtime_service.commit(session)


async def _messages_for(*, session: AsyncSession, channel: ChannelSnapshot, event: InboundEvent) -> list[Message]:
    if event.receipt_for is not None:
        found = await session.scalar(
            select(Message).where(Message.channel_id == channel.id, Message.platform_key == event.receipt_for)
        )
        return [found] if found is not None and found.direction == Direction.OUT.value else []
    if event.receipt_up_to is None:
        return []
    # A watermark: every message we sent this citizen up to that moment.
    rows = await session.scalars(
        select(Message)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .join(
            ContactIdentity,
            (ContactIdentity.contact_id == Conversation.contact_id) & (ContactIdentity.channel_id == channel.id),
        )
        .where(
            ContactIdentity.external_id == event.sender.external_id,
            Message.channel_id == channel.id,
            Message.direction == Direction.OUT.value,
            Message.created_at <= event.receipt_up_to,
            Message.delivery_status.in_((DeliveryStatus.SENT.value, DeliveryStatus.DELIVERED.value)),
        )
    )
    return list(rows)


def _advance(message: Message, target: DeliveryStatus, error: str | None) -> bool:
    current = message.delivery_status
    if target is DeliveryStatus.FAILED:
        if current in (DeliveryStatus.READ.value, DeliveryStatus.FAILED.value):
            return False
        message.delivery_status = DeliveryStatus.FAILED.value
        message.delivery_error = error or "the platform reported a failure"
        return True
    if current == DeliveryStatus.FAILED.value or _RANK.get(current, -1) >= _RANK[target.value]:
        return False
    message.delivery_status = target.value
    return True
