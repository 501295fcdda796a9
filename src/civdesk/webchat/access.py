"""Who is asking: the agency's web chat channel by slug, and the citizen's session from its token."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from civdesk.agency import service as agency_service
from civdesk.channel import service as channel_service
from civdesk.channel.models import Channel
from civdesk.core.errors import NotFound, Unauthorized
from civdesk.webchat import service as webchat_service


async def agency_channel(session: AsyncSession, slug: str) -> tuple[str, Channel]:
    """(agency name, its web chat channel); 404 when the agency has no web chat."""
    agency = await agency_service.require_by_slug(session=session, slug=slug)
    channel = await channel_service.webchat_of(session=session, agency_id=agency.id)
    if channel is None:
        raise NotFound(f"{slug} has no web chat", "у цього відомства немає веб-чату")
    return agency.name, channel


def bearer(authorization: str | None) -> str:
    if not authorization or not authorization.lower().startswith("bearer "):
        raise Unauthorized("a chat session token is required", "потрібен токен сесії чату")
    return authorization[7:].strip()


def citizen_session(*, secret_key: str, authorization: str | None, agency_slug: str) -> str:
    """The session id behind an `Authorization: Bearer <chat session token>` header."""
    return webchat_service.session_from_token(
        secret_key=secret_key, token=bearer(authorization), agency_slug=agency_slug
    )
