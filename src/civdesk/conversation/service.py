"""What agents do with conversations: list, read, reply, note, assign, resolve."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from civdesk.agent.models import Agent
from civdesk.agent.service import AgentIdentity
from civdesk.audit import service as audit_service
from civdesk.channel import service as channel_service
from civdesk.channel.models import Channel
from civdesk.contact.models import Contact, ContactIdentity
from civdesk.conversation import publish
from civdesk.conversation.models import Conversation, DeliveryStatus, Direction, Message, Status
from civdesk.conversation.publish import conversation_read
from civdesk.conversation.schemas import (
    ConversationFilter,
    ConversationPage,
    ConversationRead,
    MessagePage,
    MessageRead,
)
from civdesk.core import events
from civdesk.core.clock import as_utc, now
from civdesk.core.errors import Conflict, InvalidInput, NotFound, OutsideReplyWindow, ResolutionCodeRequired
from civdesk.delivery import service as delivery_service
from civdesk.knowledge import service as knowledge_service
from civdesk.knowledge.models import ResolutionCode
from civdesk.routing import service as routing_service


def _with_names() -> Select[Conversation, str, str, bool, str | None]:
    return (
        select(Conversation, Channel.type, Contact.display_name, ContactIdentity.is_blocked, ResolutionCode.title)
        .join(Channel, Channel.id == Conversation.channel_id)
        .join(Contact, Contact.id == Conversation.contact_id)
        .join(
            ContactIdentity,
            (ContactIdentity.contact_id == Conversation.contact_id)
            & (ContactIdentity.channel_id == Conversation.channel_id),
        )
        .outerjoin(ResolutionCode, ResolutionCode.id == Conversation.resolution_code_id)
    )


@dataclass
class _Loaded:
    conversation: Conversation
    channel_type: str
    contact_name: str
    citizen_blocked: bool
    resolution_code: str | None = None

    def read(self) -> ConversationRead:
        return conversation_read(
            self.conversation,
            channel_type=self.channel_type,
            contact_name=self.contact_name,
            citizen_blocked=self.citizen_blocked,
            resolution_code=self.resolution_code,
        )


async def list_for(*, session: AsyncSession, who: AgentIdentity, filters: ConversationFilter) -> ConversationPage:
    """The agency's conversations, newest first; agents never see another agency's."""
    query = _with_names().where(Conversation.agency_id == who.agency_id)
    if filters.status:
        if filters.status not in {s.value for s in Status}:
            raise InvalidInput(f"status must be one of {', '.join(s.value for s in Status)}", "невідомий статус")
        query = query.where(Conversation.status == filters.status)
    if filters.topic_id is not None:
        query = query.where(Conversation.topic_id == filters.topic_id)
    if filters.mine:
        query = query.where(Conversation.assignee_id == who.agent_id)
    if filters.unassigned:
        query = query.where(Conversation.assignee_id.is_(None))
    if filters.before_id is not None:
        query = query.where(Conversation.id < filters.before_id)
    rows = (await session.execute(query.order_by(Conversation.id.desc()).limit(filters.limit + 1))).all()
    items = [
        conversation_read(c, channel_type=t, contact_name=n, citizen_blocked=b, resolution_code=r)
        for c, t, n, b, r in rows[: filters.limit]
    ]
    more = len(rows) > filters.limit
    return ConversationPage(items=items, next_before_id=items[-1].id if more and items else None)


async def _load(*, session: AsyncSession, who: AgentIdentity, conversation_id: int) -> _Loaded:
    row = (await session.execute(_with_names().where(Conversation.id == conversation_id))).first()
    # Another agency's conversation answers exactly like a missing one: no existence leak.
    if row is None or row[0].agency_id != who.agency_id:
        raise NotFound(f"no conversation {conversation_id}", f"розмови {conversation_id} немає")
    conversation, channel_type, contact_name, citizen_blocked, resolution_code = row
    return _Loaded(conversation, channel_type, contact_name, citizen_blocked, resolution_code)


async def get(*, session: AsyncSession, who: AgentIdentity, conversation_id: int) -> ConversationRead:
    return (await _load(session=session, who=who, conversation_id=conversation_id)).read()


async def messages(
    *, session: AsyncSession, who: AgentIdentity, conversation_id: int, after_id: int = 0, limit: int = 200
) -> MessagePage:
    """The transcript, oldest first. Reading it is a view of personal data, so it is audited."""
    await _load(session=session, who=who, conversation_id=conversation_id)
    rows = list(
        await session.scalars(
            select(Message)
            .where(Message.conversation_id == conversation_id, Message.id > after_id)
            .order_by(Message.id)
            .limit(limit + 1)
        )
    )
    items = [MessageRead.model_validate(m) for m in rows[:limit]]
    audit_service.record(
        session=session,
        action="conversation.messages.view",
        subject_type="conversation",
        subject_id=conversation_id,
        agency_id=who.agency_id,
        actor_agent_id=who.agent_id,
        detail={"after_id": after_id, "count": len(items)},
    )
    return MessagePage(items=items, next_after_id=items[-1].id if len(rows) > limit else None)


def _new_message(
    conversation: Conversation,
    *,
    who: AgentIdentity,
    direction: Direction,
    text: str,
    buttons: list[dict[str, str]] | None = None,
    attachments: list[dict[str, Any]] | None = None,
    template: str | None = None,
) -> Message:
    return Message(
        buttons=buttons or [],
        attachments=attachments or [],
        template=template,
        conversation_id=conversation.id,
        agency_id=conversation.agency_id,
        channel_id=conversation.channel_id,
        direction=direction.value,
        author_agent_id=who.agent_id,
        text=text,
        delivery_status=(DeliveryStatus.QUEUED if direction is Direction.OUT else DeliveryStatus.NOT_APPLICABLE).value,
        created_at=now(),
    )


async def reply(
    *,
    session: AsyncSession,
    who: AgentIdentity,
    conversation_id: int,
    text: str,
    buttons: list[dict[str, str]] | None = None,
    attachments: list[dict[str, Any]] | None = None,
    template: str | None = None,
    location: dict[str, Any] | None = None,
    contact: dict[str, Any] | None = None,
) -> MessageRead:
    """Stores the reply and its delivery job together: accepted means it will be sent.
    A location or contact card is stored as the reply's attachment of that kind, as a citizen's would be
    (files come by the file route, never with one)."""
    loaded = await _load(session=session, who=who, conversation_id=conversation_id)
    conversation = loaded.conversation
    if location is not None or contact is not None:
        attachments = [_rich_attachment(location, contact, template=template, buttons=buttons)]
    if not (text.strip() or attachments or template):
        raise InvalidInput("a reply needs text, a file or a template", "відповідь має містити текст, файл або шаблон")
    if template is None:
        await _check_reply_window(session=session, conversation=conversation)
    message = _new_message(
        conversation,
        who=who,
        direction=Direction.OUT,
        text=text,
        buttons=buttons,
        attachments=attachments,
        template=template,
    )
    session.add(message)
    if conversation.first_response_at is None:
        conversation.first_response_at = message.created_at
    await routing_service.agent_replied(session=session, conversation=conversation, agent_id=who.agent_id)
    conversation.last_message_at = message.created_at
    await session.flush()
    await delivery_service.queue(session=session, message_id=message.id, channel_id=conversation.channel_id)
    conv = loaded.read()
    return publish.message_created(session=session, message=message, conversation=conv)


def _rich_attachment(
    location: dict[str, Any] | None,
    contact: dict[str, Any] | None,
    *,
    template: str | None,
    buttons: list[dict[str, str]] | None,
) -> dict[str, Any]:
    """One location or contact per reply: no platform sends them together, with a template, or with
    buttons in one message, and splitting such a reply would leave the buttons on the wrong message."""
    if location is not None and contact is not None:
        raise InvalidInput(
            "send a location and a contact card as two replies", "надішліть місце і контакт двома відповідями"
        )
    if template is not None:
        raise InvalidInput(
            "a template cannot carry a location or a contact card", "шаблон не може містити місце чи контакт"
        )
    if buttons:
        raise InvalidInput(
            "a location or a contact card cannot carry buttons: send the buttons as their own reply",
            "місце чи контакт не можуть мати кнопок: надішліть кнопки окремою відповіддю",
        )
    if location is not None:
        return {"kind": "location", **{k: v for k, v in location.items() if v is not None}}
    assert contact is not None
    return {"kind": "contact", **{k: v for k, v in contact.items() if v is not None}}


async def _check_reply_window(*, session: AsyncSession, conversation: Conversation) -> None:
    """WhatsApp (and kin) take free-form replies only within a window after the citizen last wrote:
    tell the agent now, plainly, instead of letting the send fail later."""
    channel = await channel_service.get(session=session, channel_id=conversation.channel_id)
    window = channel_service.adapter(channel).limits.reply_window_seconds
    if window is None:
        return
    last_inbound = await session.scalar(
        select(func.max(Message.created_at)).where(
            Message.conversation_id == conversation.id, Message.direction == Direction.IN.value
        )
    )
    if last_inbound is None or as_utc(last_inbound) < now() - timedelta(seconds=window):
        hours = window // 3600
        raise OutsideReplyWindow(
            f"the citizen last wrote more than {hours} hours ago: {channel.type} accepts only an approved "
            'template now (send it with "template")',
            f"громадянин писав понад {hours} год тому: {channel.type} зараз приймає лише затверджений шаблон",
        )


async def add_note(*, session: AsyncSession, who: AgentIdentity, conversation_id: int, text: str) -> MessageRead:
    """An internal note: colleagues see it, the citizen never does."""
    loaded = await _load(session=session, who=who, conversation_id=conversation_id)
    conversation = loaded.conversation
    message = _new_message(conversation, who=who, direction=Direction.NOTE, text=text)
    session.add(message)
    await session.flush()
    conv = loaded.read()
    return publish.message_created(session=session, message=message, conversation=conv)


async def assign_to_me(*, session: AsyncSession, who: AgentIdentity, conversation_id: int) -> ConversationRead:
    loaded = await _load(session=session, who=who, conversation_id=conversation_id)
    conversation = loaded.conversation
    if conversation.status == Status.RESOLVED.value:
        raise Conflict("the conversation is resolved", "розмову вже завершено")
    # A manual pull respects the agent's capacity; a supervisor may take one beyond it.
    capacity = None if who.is_supervisor else await _capacity(session=session, who=who)
    await routing_service.take(session=session, conversation=conversation, agent_id=who.agent_id, capacity=capacity)
    read = loaded.read()
    publish.conversation_changed(
        session=session, conversation=read, types=(events.CONVERSATION_ASSIGNED, events.CONVERSATION_UPDATED)
    )
    return read


async def _capacity(*, session: AsyncSession, who: AgentIdentity) -> int:
    agent = await session.get(Agent, who.agent_id)
    return agent.capacity if agent is not None else 0


async def resolve(
    *, session: AsyncSession, who: AgentIdentity, conversation_id: int, resolution_code_id: int | None = None
) -> ConversationRead:
    """Once the agency keeps resolution codes, every resolution names one (KPIs count by it);
    an agency without codes resolves as before, so older API clients keep working."""
    loaded = await _load(session=session, who=who, conversation_id=conversation_id)
    conversation = loaded.conversation
    if conversation.status == Status.RESOLVED.value:
        raise Conflict("the conversation is already resolved", "розмову вже завершено")
    if resolution_code_id is not None:
        code = await knowledge_service.active_code(session=session, agency_id=who.agency_id, code_id=resolution_code_id)
        conversation.resolution_code_id = code.id
        loaded.resolution_code = code.title
    elif await knowledge_service.has_codes(session=session, agency_id=who.agency_id):
        raise ResolutionCodeRequired(
            "choose how the conversation ended (resolution_code_id)", "оберіть результат звернення"
        )
    await routing_service.released(session=session, conversation=conversation)
    conversation.status = Status.RESOLVED.value
    conversation.resolved_at = now()
    if conversation.assignee_id is None:
        conversation.assignee_id = who.agent_id
    read = loaded.read()
    publish.conversation_changed(session=session, conversation=read, types=(events.CONVERSATION_UPDATED,))
    return read


async def attachment(*, session: AsyncSession, who: AgentIdentity, message_id: int, index: int) -> dict[str, Any]:
    """One attachment's metadata, if the message belongs to the agent's agency."""
    message = await session.get(Message, message_id)
    if message is None or message.agency_id != who.agency_id or not 0 <= index < len(message.attachments):
        raise NotFound("no such file", "такого файлу немає")
    return dict(message.attachments[index])
