"""Web chat sessions. The browser holds a signed token, not a secret shared with the agency."""

from __future__ import annotations

import json
import uuid

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from civdesk.contact.models import ContactIdentity
from civdesk.conversation.models import Conversation, Direction, Message
from civdesk.core.errors import Unauthorized
from civdesk.webchat.schemas import CitizenMessageCreate, CitizenMessageRead

SESSION_MAX_AGE_SECONDS = 90 * 24 * 3600
TRANSCRIPT_PAGE = 500
_SALT = "civdesk.webchat.session"


def _serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=_SALT)


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


def inbound_body(*, session_id: str, message: CitizenMessageCreate) -> bytes:
    """The web chat adapter's wire format, so web chat goes through the same ingest as messengers."""
    return json.dumps(
        {"session_id": session_id, "client_msg_id": message.client_msg_id, "text": message.text, "name": message.name}
    ).encode()


async def transcript(
    *, session: AsyncSession, channel_id: int, session_id: str, after_id: int = 0, limit: int = TRANSCRIPT_PAGE
) -> list[CitizenMessageRead]:
    rows = await session.execute(
        select(Message.id, Message.direction, Message.text, Message.created_at)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .join(
            ContactIdentity,
            (ContactIdentity.contact_id == Conversation.contact_id) & (ContactIdentity.channel_id == channel_id),
        )
        .where(
            ContactIdentity.external_id == session_id,
            Message.channel_id == channel_id,
            Message.id > after_id,
            Message.direction.in_((Direction.IN.value, Direction.OUT.value)),
        )
        .order_by(Message.id)
        .limit(limit)
    )
    return [CitizenMessageRead(id=r.id, direction=r.direction, text=r.text, created_at=r.created_at) for r in rows]


async def contact_of(*, session: AsyncSession, channel_id: int, session_id: str) -> int | None:
    """The contact behind a web chat session, once the citizen has written."""
    return await session.scalar(
        select(ContactIdentity.contact_id).where(
            ContactIdentity.channel_id == channel_id, ContactIdentity.external_id == session_id
        )
    )
