"""The conversation side of delivery: what to send for a message, and recording the outcome.

Every reply passes through here twice (before and after its send), so the common path speaks Core
with statements built once: one SELECT to load, and one UPDATE plus the event to record a send.
Failures and retries are rare and keep the ORM.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from sqlalchemy import Table, and_, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from civdesk.contact import service as contact_service
from civdesk.contact.models import ContactIdentity
from civdesk.conversation.models import Conversation, DeliveryStatus, Direction, Message
from civdesk.conversation.publish import emit_status, message_updated
from civdesk.conversation.schemas import MessageRead, event_payload
from civdesk.core import events
from civdesk.realtime import service as realtime_service


@dataclass(frozen=True)
class OutboundWork:
    message: MessageRead
    agency_id: int
    channel_id: int
    recipient_external_id: str | None
    recipient_blocked: bool

    @property
    def is_outbound(self) -> bool:
        return self.message.direction == Direction.OUT.value

    @property
    def already_settled(self) -> bool:
        return self.message.delivery_status in (DeliveryStatus.DELIVERED.value, DeliveryStatus.FAILED.value)


_message = cast(Table, Message.__table__)
_READ_FIELDS = tuple(MessageRead.model_fields)
_LOAD = (
    select(
        *(_message.c[name] for name in _READ_FIELDS),
        _message.c.agency_id,
        _message.c.channel_id,
        ContactIdentity.external_id,
        ContactIdentity.is_blocked,
    )
    .outerjoin(Conversation, Conversation.id == _message.c.conversation_id)
    .outerjoin(
        ContactIdentity,
        and_(
            ContactIdentity.contact_id == Conversation.contact_id, ContactIdentity.channel_id == _message.c.channel_id
        ),
    )
    .where(_message.c.id == bindparam("message_id"))
    .order_by(ContactIdentity.id)
    .limit(1)
)
_MARK_SENT = (
    update(_message)
    .where(_message.c.id == bindparam("message_id"))
    .values(
        delivery_status=bindparam("new_status"),
        delivery_error=None,
        platform_key=func.coalesce(bindparam("new_key"), _message.c.platform_key),
    )
)


async def load(*, session: AsyncSession | AsyncConnection, message_id: int) -> OutboundWork | None:
    """The message, and the citizen's address on its channel, in one statement."""
    row = (await session.execute(_LOAD, {"message_id": message_id})).first()
    if row is None:
        return None
    fields = row._mapping
    return OutboundWork(
        message=MessageRead.model_validate({name: fields[name] for name in _READ_FIELDS}),
        agency_id=fields["agency_id"],
        channel_id=fields["channel_id"],
        recipient_external_id=fields["external_id"],
        recipient_blocked=bool(fields["is_blocked"]),
    )


async def record_sent(
    *, session: AsyncSession, work: OutboundWork, platform_key: str | None, awaits_receipt: bool
) -> None:
    """Accepted by the platform. Where it reports delivery later, the receipt moves it on.

    Receipts that arrived before this send was recorded are applied by the caller after commit
    (`receipts.settle_parked`): each side commits, then looks for the other's row."""
    status = (DeliveryStatus.SENT if awaits_receipt else DeliveryStatus.DELIVERED).value
    result = await session.execute(
        _MARK_SENT, {"message_id": work.message.id, "new_status": status, "new_key": platform_key}
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        return  # deleted meanwhile (retention): nothing to tell
    read = work.message.model_copy(update={"delivery_status": status, "delivery_error": None})
    payload = {"message": event_payload(read)}
    realtime_service.emit(session=session, agency_id=work.agency_id, type=events.MESSAGE_DELIVERY, payload=payload)


async def mark_failed(*, session: AsyncSession, message_id: int, reason: str, recipient_unreachable: bool) -> None:
    """The agent sees why; a citizen who blocked the bot is marked so later replies say so at once."""
    message = await session.get(Message, message_id)
    if message is None:
        return
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


async def note_retry(*, session: AsyncSession, message_id: int, reason: str) -> None:
    """Still queued, but the agent can see the platform is pushing back."""
    message = await session.get(Message, message_id)
    if message is None:
        return
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
