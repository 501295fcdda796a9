"""Web chat sessions. The browser holds a signed token, not a secret shared with the agency."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from civdesk.agency import hours
from civdesk.channel.models import Channel
from civdesk.channels.base import rich_from_attachments
from civdesk.contact.models import ContactIdentity
from civdesk.conversation.models import Conversation, Direction, Message, Status
from civdesk.core.clock import now
from civdesk.core.errors import Conflict, Unauthorized
from civdesk.presence.models import AgentPresence, PresenceStatus
from civdesk.quality import service as quality_service
from civdesk.quality.schemas import RatingRead
from civdesk.routing import assign
from civdesk.routing import config as routing_config
from civdesk.webchat.schemas import (
    ChatStateRead,
    CitizenButtonRead,
    CitizenContactRead,
    CitizenFileRead,
    CitizenLocationRead,
    CitizenMessageRead,
)

SESSION_MAX_AGE_SECONDS = 90 * 24 * 3600
TRANSCRIPT_PAGE = 500
# How far back a pressed button is looked for among the agency's messages.
OFFERED_BUTTONS_LOOKBACK = 50
_SALT = "civdesk.webchat.session"
_FILE_SALT = "civdesk.webchat.file"
_VISIBLE = (Direction.IN.value, Direction.OUT.value)


def _serializer(secret_key: str, salt: str = _SALT) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=salt)


def open_session(*, secret_key: str, agency_slug: str) -> tuple[str, str]:
    """A new anonymous citizen session for one agency: (session_id, token)."""
    session_id = uuid.uuid4().hex
    return session_id, _serializer(secret_key).dumps({"sid": session_id, "agency": agency_slug})


def session_from_token(*, secret_key: str, token: str, agency_slug: str) -> str:
    try:
        data = _serializer(secret_key).loads(token, max_age=SESSION_MAX_AGE_SECONDS)
    except BadSignature:
        raise Unauthorized("invalid or expired chat session", "сесія чату недійсна або застаріла") from None
    if not isinstance(data, dict) or data.get("agency") != agency_slug or not isinstance(data.get("sid"), str):
        raise Unauthorized("this session belongs to another agency", "ця сесія належить іншому відомству")
    return str(data["sid"])


def file_url(*, secret_key: str, agency_slug: str, session_id: str, message_id: int, index: int) -> str:
    """A download link for one file of the citizen's chat. It carries a token good for this one file
    and session only, so <a download> and <img> work without the session token in any URL."""
    token = _serializer(secret_key, _FILE_SALT).dumps([agency_slug, session_id, message_id, index])
    return f"/chat/{quote(agency_slug, safe='')}/files/{message_id}/{index}?file_token={token}"


def session_from_file_token(*, secret_key: str, token: str, agency_slug: str, message_id: int, index: int) -> str:
    try:
        data = _serializer(secret_key, _FILE_SALT).loads(token, max_age=SESSION_MAX_AGE_SECONDS)
    except BadSignature:
        raise Unauthorized("invalid or expired file link", "посилання на файл недійсне або застаріле") from None
    if not isinstance(data, list) or len(data) != 4 or data[0] != agency_slug or data[2:] != [message_id, index]:
        raise Unauthorized("this link is for another file", "це посилання на інший файл")
    return str(data[1])


def inbound_body(
    *,
    session_id: str,
    client_msg_id: str,
    text: str,
    name: str | None,
    attachments: Sequence[Mapping[str, Any]] = (),
    button_payload: str | None = None,
) -> bytes:
    """The web chat adapter's wire format, so web chat goes through the same ingest as messengers."""
    body: dict[str, Any] = {"session_id": session_id, "client_msg_id": client_msg_id, "text": text, "name": name}
    if attachments:
        body["attachments"] = [dict(a) for a in attachments]
    if button_payload is not None:
        body["button_payload"] = button_payload
    return json.dumps(body).encode()


def _own(query: Select[Any], *, channel_id: int, session_id: str) -> Select[Any]:
    """Restricts a query on Message to this citizen's chat: their messages and the agency's replies."""
    return (
        query.join(Conversation, Conversation.id == Message.conversation_id)
        .join(
            ContactIdentity,
            (ContactIdentity.contact_id == Conversation.contact_id) & (ContactIdentity.channel_id == channel_id),
        )
        .where(ContactIdentity.external_id == session_id, Message.channel_id == channel_id)
    )


async def transcript(
    *,
    session: AsyncSession,
    channel_id: int,
    session_id: str,
    secret_key: str,
    agency_slug: str,
    after_id: int = 0,
    limit: int = TRANSCRIPT_PAGE,
) -> list[CitizenMessageRead]:
    query = select(
        Message.id, Message.direction, Message.text, Message.created_at, Message.attachments, Message.buttons
    )
    rows = await session.execute(
        _own(query, channel_id=channel_id, session_id=session_id)
        .where(Message.id > after_id, Message.direction.in_(_VISIBLE))
        .order_by(Message.id)
        .limit(limit)
    )
    items = []
    for r in rows:
        files = [
            CitizenFileRead(
                kind=str(a.get("kind") or "document"),
                name=str(a.get("name") or "file"),
                mime_type=str(a.get("mime_type") or "application/octet-stream"),
                size=int(a.get("size") or 0),
                url=file_url(
                    secret_key=secret_key, agency_slug=agency_slug, session_id=session_id, message_id=r.id, index=i
                ),
            )
            for i, a in enumerate(r.attachments or [])
            if isinstance(a, dict) and a.get("stored_key")
        ]
        buttons = (
            [CitizenButtonRead(title=str(b["title"]), payload=str(b["payload"])) for b in r.buttons or []]
            if r.direction == Direction.OUT.value
            else []
        )
        location, contact = _rich(r.attachments or []) if r.direction == Direction.OUT.value else (None, None)
        items.append(
            CitizenMessageRead(
                id=r.id,
                direction=r.direction,
                text=r.text,
                created_at=r.created_at,
                attachments=files,
                buttons=buttons,
                location=location,
                contact=contact,
            )
        )
    return items


def _rich(attachments: list[Any]) -> tuple[CitizenLocationRead | None, CitizenContactRead | None]:
    """An agent's location or contact card, with the links the chat page shows them by."""
    place, card = rich_from_attachments(attachments)
    location = contact = None
    if place is not None:
        location = CitizenLocationRead(latitude=place.latitude, longitude=place.longitude, title=place.title,
                                       address=place.address, map_url=place.map_url)
    if card is not None:
        contact = CitizenContactRead(name=card.name or card.phone_number, phone_number=card.phone_number,
                                     tel_url=f"tel:{card.phone_number}")
    return location, contact


async def offered_button(*, session: AsyncSession, channel_id: int, session_id: str, payload: str) -> str | None:
    """The title of the button with this payload among the agency's recent messages to this citizen:
    a press of a button never offered is refused."""
    rows = await session.scalars(
        _own(select(Message.buttons), channel_id=channel_id, session_id=session_id)
        .where(Message.direction == Direction.OUT.value)
        .order_by(Message.id.desc())
        .limit(OFFERED_BUTTONS_LOOKBACK)
    )
    for buttons in rows:
        for button in buttons or []:
            if isinstance(button, dict) and button.get("payload") == payload:
                return str(button.get("title") or payload)
    return None


async def own_file(
    *, session: AsyncSession, channel_id: int, session_id: str, message_id: int, index: int
) -> dict[str, Any] | None:
    """One stored file of a message in this citizen's chat; None for anyone else's."""
    attachments = await session.scalar(
        _own(select(Message.attachments), channel_id=channel_id, session_id=session_id).where(
            Message.id == message_id, Message.direction.in_(_VISIBLE)
        )
    )
    if not attachments or not 0 <= index < len(attachments):
        return None
    meta = attachments[index]
    return dict(meta) if isinstance(meta, dict) and meta.get("stored_key") else None


async def contact_of(*, session: AsyncSession, channel_id: int, session_id: str) -> int | None:
    """The contact behind a web chat session, once the citizen has written."""
    return await session.scalar(
        select(ContactIdentity.contact_id).where(
            ContactIdentity.channel_id == channel_id, ContactIdentity.external_id == session_id
        )
    )


async def latest_conversation(*, session: AsyncSession, channel_id: int, session_id: str) -> Conversation | None:
    """The citizen's newest conversation in this web chat: the one a rating would be about."""
    return await session.scalar(
        select(Conversation)
        .join(
            ContactIdentity,
            (ContactIdentity.contact_id == Conversation.contact_id) & (ContactIdentity.channel_id == channel_id),
        )
        .where(ContactIdentity.external_id == session_id, Conversation.channel_id == channel_id)
        .order_by(Conversation.id.desc())
        .limit(1)
    )


async def agents_online(*, session: AsyncSession, agency_id: int) -> bool:
    """Someone can answer now. Presence leases expire by themselves (presence.service), so an
    "online" row means a console is really open."""
    found = await session.scalar(
        select(AgentPresence.agent_id)
        .where(AgentPresence.agency_id == agency_id, AgentPresence.status == PresenceStatus.ONLINE.value)
        .limit(1)
    )
    return found is not None


async def chat_state(
    *, session: AsyncSession, channel: Channel, session_id: str | None, language: str = "uk"
) -> ChatStateRead:
    """Who can answer, the agency's hours (and, when closed, when it opens), the citizen's place in
    the queue with an expected wait while open, and whether a rating is due."""
    online = await agents_online(session=session, agency_id=channel.agency_id)
    cfg = await routing_config.load(session=session, agency_id=channel.agency_id)
    moment = now()
    open_now = hours.is_open(cfg.calendar, moment)
    opening = None if open_now else hours.next_opening(cfg.calendar, moment)
    state = ChatStateRead(
        agents_online=online,
        open_now=open_now,
        always_open=cfg.calendar.always_open,
        hours=hours.describe(cfg.calendar, language),
        time_zone=cfg.calendar.time_zone.key,
        opens_at=opening,
        opens_at_text=opening.astimezone(cfg.calendar.time_zone).strftime("%d.%m %H:%M") if opening else None,
    )
    conversation = (
        None
        if session_id is None
        else await latest_conversation(session=session, channel_id=channel.id, session_id=session_id)
    )
    if conversation is None:
        return state
    rating = await quality_service.of_conversation(session=session, conversation_id=conversation.id)
    resolved = conversation.status == Status.RESOLVED.value
    state.conversation_status = conversation.status
    state.rating_due = resolved and rating is None
    state.rated = rating.score if rating else None
    # After a transfer to another agency the queue is that agency's: its hours do not change the
    # page (the page is this agency's), but the place in the queue is where the question waits now.
    if not resolved and conversation.assignee_id is None and conversation.queued_at is not None:
        state.queue_position = await assign.queue_position(
            session=session,
            agency_id=conversation.agency_id,
            topic_id=conversation.topic_id,
            priority=conversation.priority,
            queued_at=conversation.queued_at,
        )
        if open_now and conversation.agency_id == cfg.id:
            state.expected_wait_minutes = await assign.expected_wait_minutes(
                session=session, cfg=cfg, topic_id=conversation.topic_id, position=state.queue_position
            )
    return state


async def rate(
    *, session: AsyncSession, channel: Channel, session_id: str, score: int, comment: str | None
) -> RatingRead:
    """The citizen rates their latest conversation, once it is resolved."""
    conversation = await latest_conversation(session=session, channel_id=channel.id, session_id=session_id)
    if conversation is None or conversation.status != Status.RESOLVED.value:
        raise Conflict("only a resolved conversation can be rated", "оцінити можна лише завершену розмову")
    return await quality_service.rate(
        session=session,
        conversation_id=conversation.id,
        agency_id=conversation.agency_id,
        score=score,
        comment=comment,
        channel=channel.type,
    )
