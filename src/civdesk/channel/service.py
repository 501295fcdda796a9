"""Channels: an agency's bots, their secrets, and the adapter each one talks through."""

from __future__ import annotations

import secrets as secrets_module
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from civdesk.agency.models import Agency
from civdesk.channel.models import Channel
from civdesk.channel.schemas import ChannelRead
from civdesk.channels import registry
from civdesk.channels.base import ChannelAccount, ChannelAdapter
from civdesk.core.errors import InvalidInput, NotFound

RECEIVE_MODES = ("webhook", "polling")


def webhook_path(channel: Channel) -> str:
    return f"/webhooks/{channel.type}/{channel.id}"


def to_read(channel: Channel) -> ChannelRead:
    return ChannelRead(
        id=channel.id,
        agency_id=channel.agency_id,
        type=channel.type,
        name=channel.name,
        config=dict(channel.config),
        is_active=channel.is_active,
        created_at=channel.created_at,
        webhook_path=webhook_path(channel),
    )


def account(channel: Channel) -> ChannelAccount:
    return ChannelAccount(id=channel.id, config=dict(channel.config), secrets=dict(channel.secrets))


def adapter(channel: Channel) -> ChannelAdapter:
    return registry.get(channel.type)


async def add(
    *,
    session: AsyncSession,
    agency: Agency,
    type: str,
    name: str,
    config: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> Channel:
    """Connects a messenger account to an agency."""
    registry.get(type)  # unknown types fail here, with a clear error
    config = dict(config or {})
    mode = config.setdefault("receive_mode", "webhook")
    if mode not in RECEIVE_MODES:
        raise InvalidInput(f"receive_mode must be one of {', '.join(RECEIVE_MODES)}", "невідомий режим отримання")
    channel = Channel(agency_id=agency.id, type=type, name=name, config=config, secrets=dict(secrets or {}))
    session.add(channel)
    await session.flush()
    return channel


def new_webhook_secret() -> str:
    # Telegram accepts 1-256 characters of A-Z a-z 0-9 _ -; token_urlsafe yields exactly that set.
    return secrets_module.token_urlsafe(32)


async def get(*, session: AsyncSession, channel_id: int) -> Channel:
    channel = await session.get(Channel, channel_id)
    if channel is None:
        raise NotFound(f"no channel {channel_id}", f"каналу {channel_id} немає")
    return channel


async def get_active(*, session: AsyncSession, channel_id: int, type: str) -> Channel | None:
    """The channel a webhook is addressed to, if it exists, is of that type and is switched on."""
    channel = await session.get(Channel, channel_id)
    if channel is None or channel.type != type or not channel.is_active:
        return None
    return channel


async def list_for(*, session: AsyncSession, agency_id: int | None = None) -> list[Channel]:
    query = select(Channel).order_by(Channel.id)
    if agency_id is not None:
        query = query.where(Channel.agency_id == agency_id)
    return list(await session.scalars(query))


async def webchat_of(*, session: AsyncSession, agency_id: int) -> Channel | None:
    return await session.scalar(
        select(Channel)
        .where(Channel.agency_id == agency_id, Channel.type == "webchat", Channel.is_active)
        .order_by(Channel.id)
        .limit(1)
    )


async def polling_channels(*, session: AsyncSession) -> list[Channel]:
    channels = await session.scalars(select(Channel).where(Channel.is_active).order_by(Channel.id))
    return [c for c in channels if c.config.get("receive_mode") == "polling"]
