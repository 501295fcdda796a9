"""Inbound: a platform's events become the citizen's messages, in one transaction.

This is the hottest path in civdesk (every webhook), so it speaks SQLAlchemy Core with statements
built once: a continuing chat costs one lookup (identity, contact, open conversation and the
duplicate check together), the message INSERT, the conversation UPDATE and the event INSERT. On
PostgreSQL the lookup also draws the new rows' ids (the message's, and a first message's contact and
conversation), and the writes travel with the event INSERT as one statement (db.writes).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, case, literal, select, true, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from civdesk.channel.service import ChannelSnapshot
from civdesk.channels.base import InboundEvent, InboundKind
from civdesk.contact import service as contact_service
from civdesk.contact.models import Contact, ContactIdentity
from civdesk.conversation import publish, receipts
from civdesk.conversation.models import Conversation, DeliveryStatus, Direction, Message, Status
from civdesk.conversation.schemas import ConversationRead, MessageRead
from civdesk.core import events
from civdesk.core.clock import now
from civdesk.db import direct, writes
from civdesk.db.session import connection_of
from civdesk.delivery import service as delivery_service
from civdesk.delivery.models import JobKind
from civdesk.routing import service as routing_service

log = logging.getLogger(__name__)

_DUPLICATE = (
    select(Message.id)
    .where(Message.channel_id == bindparam("channel_id"), Message.platform_key == bindparam("platform_key"))
    .scalar_subquery()
)
_LOOKUP = (
    select(
        ContactIdentity.id.label("identity_id"),
        ContactIdentity.contact_id,
        ContactIdentity.is_blocked,
        Contact.display_name,
        Conversation.id.label("conversation_id"),
        Conversation.agency_id.label("conversation_agency_id"),
        Conversation.status,
        Conversation.topic_id,
        Conversation.assignee_id,
        Conversation.created_at,
        Conversation.first_response_at,
        Conversation.resolved_at,
        Conversation.language,
        Conversation.priority,
        Conversation.triage_pending,
        Conversation.queued_at,
        Conversation.awaiting_since,
        Conversation.transfer_count,
        Conversation.repeat_of_id,
        _DUPLICATE.label("duplicate_id"),
    )
    .join(Contact, Contact.id == ContactIdentity.contact_id)
    .outerjoin(
        Conversation,
        and_(
            Conversation.contact_id == ContactIdentity.contact_id,
            Conversation.channel_id == ContactIdentity.channel_id,
            Conversation.status != Status.RESOLVED.value,
        ),
    )
    .where(
        ContactIdentity.channel_id == bindparam("channel_id"), ContactIdentity.external_id == bindparam("external_id")
    )
    .order_by(Conversation.id.desc())
    .limit(1)
)
# Plain tables, not mapped classes: an INSERT on a mapped class takes the ORM's bulk path, which
# costs more CPU than the statement itself.
_contact = cast(Table, Contact.__table__)
_identity = cast(Table, ContactIdentity.__table__)
_conversation = cast(Table, Conversation.__table__)
_message = cast(Table, Message.__table__)
_UNBLOCK = update(_identity).where(_identity.c.id == bindparam("identity_id")).values(is_blocked=False)
_FOUND = _LOOKUP.subquery("found")
# PostgreSQL: the lookup also draws the ids of the rows a message may create, so that a first message costs
# no round trip more than a continuing one. One row always comes back (the lookup's, or NULLs beside the
# ids); CASE evaluates only its chosen branch, so a sequence is drawn only for a row that will be inserted.
_LOOKUP_WITH_NEXT_IDS = select(
    *_FOUND.c,
    case((_FOUND.c.identity_id.is_(None), writes.next_id_of(_contact))).label("next_contact_id"),
    case((_FOUND.c.conversation_id.is_(None), writes.next_id_of(_conversation))).label("next_conversation_id"),
    writes.next_id_of(_message).label("next_message_id"),
).select_from(select(literal(1).label("one")).subquery("one").outerjoin(_FOUND, true()))


@dataclass(frozen=True)
class IngestResult:
    stored_message_ids: tuple[int, ...]
    duplicates: int
    # Button presses whose spinner the platform wants stopped, once the data is committed.
    button_queries: tuple[str, ...]


async def ingest(*, session: AsyncSession, channel: ChannelSnapshot, inbound: tuple[InboundEvent, ...]) -> IngestResult:
    """Stores what citizens sent; a platform key seen before is skipped, so redelivery is harmless."""
    stored: list[int] = []
    duplicates = 0
    queries: list[str] = []
    for event in inbound:
        if event.kind in (InboundKind.BLOCKED, InboundKind.UNBLOCKED, InboundKind.STARTED):
            await _mark_reachability(session=session, channel=channel, event=event)
            continue
        if event.kind is InboundKind.RECEIPT:
            await receipts.apply(session=session, channel=channel, event=event)
            continue
        message_id = await _store(session=session, channel=channel, event=event)
        if message_id is None:
            duplicates += 1
            continue
        stored.append(message_id)
        if event.button_query_id:
            queries.append(event.button_query_id)
    return IngestResult(stored_message_ids=tuple(stored), duplicates=duplicates, button_queries=tuple(queries))


async def _store(*, session: AsyncSession, channel: ChannelSnapshot, event: InboundEvent) -> int | None:
    """Stores one citizen message; None if this platform key was stored before."""
    stamp = now()
    # Core statements straight on the connection: the ORM session layer adds CPU to each one.
    conn = await connection_of(session)
    combine = writes.combines(conn)
    looked_up = await direct.read(
        conn,
        _LOOKUP_WITH_NEXT_IDS if combine else _LOOKUP,
        {"channel_id": channel.id, "external_id": event.sender.external_id, "platform_key": event.platform_key},
    )
    found = looked_up[0] if looked_up and looked_up[0].identity_id is not None else None
    if found is not None and found.duplicate_id is not None:
        return None
    created = found is None or found.conversation_id is None
    # Ids known now let the INSERTs wait for the event's statement (PostgreSQL); None: take them from RETURNING.
    ids = _ids_drawn(looked_up[0]) if combine else _Ids()
    if found is None:
        contact_id = await _new_contact(conn, channel, event, stamp, ids.contact)
        contact_name = event.sender.display_name[:255]
    else:
        contact_id, contact_name = found.contact_id, found.display_name
        if found.is_blocked:  # writing to us again means the bot is reachable again
            await conn.execute(_UNBLOCK, {"identity_id": found.identity_id})

    reopened = not created and found is not None and found.status == Status.PENDING.value
    text = event.text if event.kind is InboundKind.MESSAGE else (event.text or f"[{event.button_payload or ''}]")
    plan = None
    if created:
        plan = await routing_service.plan_new_conversation(
            session=session,
            agency_id=channel.agency_id,
            text=text,
            button_payload=event.button_payload,
            sender_language=event.sender.language,
            stamp=stamp,
        )
        conversation = await _new_conversation(
            conn, channel, contact_id, contact_name, stamp, plan.values, ids.conversation
        )
    else:
        assert found is not None
        conversation = _existing_conversation(found, channel, contact_id, contact_name, stamp, reopened)

    values: dict[str, Any] = {
        "conversation_id": conversation.id,
        # A conversation transferred to another agency keeps the first agency's bot.
        "agency_id": conversation.agency_id,
        "channel_id": channel.id,
        "direction": Direction.IN.value,
        "author_agent_id": None,
        "text": text,
        "attachments": [dict(a) for a in event.attachments],
        # A press keeps what was pressed: the title as the text, the payload (e.g. "csat:5") for automation.
        "buttons": [{"title": text, "payload": event.button_payload}] if event.button_payload is not None else [],
        "template": None,
        "platform_key": event.platform_key,
        "delivery_status": DeliveryStatus.RECEIVED.value,
        "delivery_error": None,
        "created_at": stamp,
    }
    if ids.message is not None:
        message_id = ids.message
        await writes.later(conn, writes.inserting(_message, values | {"id": message_id}))
    else:
        message_id = await writes.insert_now(conn, writes.inserting(_message, values))
    if not created:
        changes: dict[str, Any] = {"last_message_at": stamp}
        if reopened:
            changes["status"] = Status.OPEN.value
        changes |= await routing_service.citizen_wrote(
            session=session,
            conversation=conversation,
            state=found,
            text=text,
            button_payload=event.button_payload,
            stamp=stamp,
        )
        await writes.later(conn, writes.updating(_conversation, conversation.id, changes))
        conversation = conversation.model_copy(update=changes)

    if created:
        publish.conversation_changed(session=session, conversation=conversation, types=(events.CONVERSATION_CREATED,))
    elif reopened:
        publish.conversation_changed(session=session, conversation=conversation, types=(events.CONVERSATION_UPDATED,))
    publish.message_read_created(
        session=session, message=MessageRead.model_validate(values | {"id": message_id}), conversation=conversation
    )
    if any(a.get("file_id") for a in event.attachments):
        await delivery_service.queue(session=session, message_id=message_id, channel_id=channel.id, kind=JobKind.FETCH)
    phone = _own_phone(channel, event, new_contact=found is None)
    if phone is not None:  # rare: a first WhatsApp message, or a shared own contact
        await contact_service.record_phone(
            session=session, agency_id=channel.agency_id, contact_id=contact_id, phone=phone
        )
    if plan is not None:
        await routing_service.start_new_conversation(session=session, plan=plan, conversation=conversation, stamp=stamp)
    return message_id


@dataclass(frozen=True)
class _Ids:
    contact: int | None = None
    conversation: int | None = None
    message: int | None = None


def _ids_drawn(looked_up: Any) -> _Ids:
    """PostgreSQL: the new rows' ids before their INSERTs, as the lookup drew them."""
    return _Ids(
        contact=looked_up.next_contact_id,
        conversation=looked_up.next_conversation_id,
        message=looked_up.next_message_id,
    )


def _own_phone(channel: ChannelSnapshot, event: InboundEvent, *, new_contact: bool) -> str | None:
    """The citizen's own number when the platform vouches for it: WhatsApp's wa_id is the number
    itself; a contact card counts only when the platform says it is the sender's own (Telegram,
    WhatsApp). Viber does not say whose card it is, so Viber contacts are linked by hand."""
    for attachment in event.attachments:
        if attachment.get("kind") == "contact" and attachment.get("is_own_number") is True:
            return str(attachment.get("phone_number") or "") or None
    if new_contact and channel.type == "whatsapp" and event.sender.external_id.isdigit():
        return event.sender.external_id
    return None


async def _new_contact(
    conn: AsyncConnection, channel: ChannelSnapshot, event: InboundEvent, stamp: datetime, contact_id: int | None
) -> int:
    values: dict[str, Any] = {
        "agency_id": channel.agency_id,
        "display_name": event.sender.display_name[:255],
        "language": event.sender.language,
        "created_at": stamp,
    }
    if contact_id is None:
        contact_id = await writes.insert_now(conn, writes.inserting(_contact, values))
    else:
        await writes.later(conn, writes.inserting(_contact, values | {"id": contact_id}))
    identity: dict[str, Any] = {
        "contact_id": contact_id,
        "channel_id": channel.id,
        "external_id": event.sender.external_id,
        "username": event.sender.username,
        "is_blocked": False,
        "created_at": stamp,
    }
    await writes.later(conn, writes.inserting(_identity, identity))
    return contact_id


async def _new_conversation(
    conn: AsyncConnection,
    channel: ChannelSnapshot,
    contact_id: int,
    contact_name: str,
    stamp: datetime,
    routing: dict[str, Any],
    conversation_id: int | None,
) -> ConversationRead:
    values: dict[str, Any] = routing | {
        "agency_id": channel.agency_id,
        "channel_id": channel.id,
        "contact_id": contact_id,
        "assignee_id": None,
        "status": Status.OPEN.value,
        "created_at": stamp,
        "first_response_at": None,
        "resolved_at": None,
        "last_message_at": stamp,
    }
    if conversation_id is None:
        conversation_id = await writes.insert_now(conn, writes.inserting(_conversation, values))
    else:
        await writes.later(conn, writes.inserting(_conversation, values | {"id": conversation_id}))
    return ConversationRead.model_validate(
        values | {"id": conversation_id, "channel_type": channel.type, "contact_name": contact_name}
    )


def _existing_conversation(
    found: Any, channel: ChannelSnapshot, contact_id: int, contact_name: str, stamp: datetime, reopened: bool
) -> ConversationRead:
    return ConversationRead(
        id=found.conversation_id,
        agency_id=found.conversation_agency_id,
        channel_id=channel.id,
        channel_type=channel.type,
        contact_id=contact_id,
        contact_name=contact_name,
        topic_id=found.topic_id,
        assignee_id=found.assignee_id,
        status=Status.OPEN.value if reopened else found.status,
        created_at=found.created_at,
        first_response_at=found.first_response_at,
        resolved_at=found.resolved_at,
        last_message_at=stamp,
        language=found.language,
        priority=found.priority,
        queued_at=found.queued_at,
        triage_pending=found.triage_pending,
        transfer_count=found.transfer_count,
        repeat_of_id=found.repeat_of_id,
    )


async def _mark_reachability(*, session: AsyncSession, channel: ChannelSnapshot, event: InboundEvent) -> None:
    _, identity = await contact_service.identify(
        session=session, agency_id=channel.agency_id, channel_id=channel.id, sender=event.sender
    )
    # Opening the chat (Viber conversation_started, Get Started) also means the bot is reachable.
    identity.is_blocked = event.kind is InboundKind.BLOCKED
    log.info("channel %s: citizen %s %s the bot", channel.id, identity.contact_id, event.kind.value)
