"""Channels: an agency's bots, their secrets, and the adapter each one talks through."""

from __future__ import annotations

import asyncio
import logging
import secrets as secrets_module
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from civdesk.agency.models import Agency
from civdesk.channel.models import Channel
from civdesk.channel.schemas import ChannelRead
from civdesk.channels import registry
from civdesk.channels.base import ChannelAccount, ChannelAdapter
from civdesk.core.errors import InvalidInput, NotFound
from civdesk.db.session import reading

log = logging.getLogger(__name__)
RECEIVE_MODES = ("webhook", "polling")
# Webhooks and the delivery worker look their channel up on every message; a few seconds of staleness
# after an edit is fine (an edit in this process invalidates at once), a query per message is not.
SNAPSHOT_TTL_SECONDS = 5.0


@dataclass(frozen=True)
class ChannelSnapshot:
    """What the inbound path needs of a channel, without holding a database session."""

    id: int
    type: str
    agency_id: int
    is_active: bool
    config: Mapping[str, Any]
    secrets: Mapping[str, Any] = field(repr=False)


# Per sessionmaker, and gone with it: one process may serve several databases (tests, tools), one after
# another. (Keyed by its id(), a new sessionmaker could take a dead one's id and be answered with another
# database's channel of the same id: a webhook then got 404.)
_Sessionmaker = async_sessionmaker[AsyncSession]
_snapshots: weakref.WeakKeyDictionary[_Sessionmaker, dict[int, tuple[float, ChannelSnapshot]]] = (
    weakref.WeakKeyDictionary()
)
_loading: weakref.WeakKeyDictionary[_Sessionmaker, dict[int, asyncio.Future[ChannelSnapshot | None]]] = (
    weakref.WeakKeyDictionary()
)


def snapshot_of(channel: Channel) -> ChannelSnapshot:
    return ChannelSnapshot(
        id=channel.id,
        type=channel.type,
        agency_id=channel.agency_id,
        is_active=channel.is_active,
        config=dict(channel.config),
        secrets=dict(channel.secrets),
    )


async def snapshot(*, sessionmaker: async_sessionmaker[AsyncSession], channel_id: int) -> ChannelSnapshot | None:
    """The channel as this process last read it (at most SNAPSHOT_TTL_SECONDS ago), active or not.

    One read refreshes an expired entry; callers meanwhile get the expired one rather than a read
    each. Without that, every one of a worker's jobs in flight read the channel when it expired."""
    cached = _snapshots.setdefault(sessionmaker, {}).get(channel_id)
    if cached is not None and cached[0] >= time.monotonic():
        return cached[1]
    in_flight = _loading.setdefault(sessionmaker, {})
    loading = in_flight.get(channel_id)
    if loading is None or loading.get_loop() is not asyncio.get_running_loop():
        loading = asyncio.ensure_future(_read_snapshot(sessionmaker=sessionmaker, channel_id=channel_id))
        in_flight[channel_id] = loading
        loading.add_done_callback(lambda done: _loaded(in_flight, channel_id, done))
    if cached is not None:
        return cached[1]
    return await asyncio.shield(loading)


async def _read_snapshot(*, sessionmaker: _Sessionmaker, channel_id: int) -> ChannelSnapshot | None:
    async with reading(sessionmaker) as session:
        channel = await session.get(Channel, channel_id)
    cache = _snapshots.setdefault(sessionmaker, {})
    if channel is None:
        cache.pop(channel_id, None)
        return None
    found = snapshot_of(channel)
    cache[channel_id] = (time.monotonic() + SNAPSHOT_TTL_SECONDS, found)
    return found


def _loaded(
    in_flight: dict[int, asyncio.Future[ChannelSnapshot | None]],
    channel_id: int,
    done: asyncio.Future[ChannelSnapshot | None],
) -> None:
    in_flight.pop(channel_id, None)
    if not done.cancelled() and done.exception() is not None:
        log.warning("reading channel %s failed", channel_id, exc_info=done.exception())


async def active_snapshot(
    *, sessionmaker: async_sessionmaker[AsyncSession], channel_id: int, type: str
) -> ChannelSnapshot | None:
    """The channel a webhook is addressed to, if it exists, is of that type and is switched on."""
    found = await snapshot(sessionmaker=sessionmaker, channel_id=channel_id)
    return found if found is not None and found.type == type and found.is_active else None


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


def account(channel: Channel | ChannelSnapshot) -> ChannelAccount:
    return ChannelAccount(id=channel.id, config=dict(channel.config), secrets=dict(channel.secrets))


def adapter(channel: Channel | ChannelSnapshot) -> ChannelAdapter:
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


async def types_in_use(*, session: AsyncSession) -> list[str]:
    """Every channel type configured here: the adapters a delivery worker will need."""
    return sorted(await session.scalars(select(Channel.type).distinct()))


async def polling_channels(*, session: AsyncSession) -> list[Channel]:
    channels = await session.scalars(select(Channel).where(Channel.is_active).order_by(Channel.id))
    return [c for c in channels if c.config.get("receive_mode") == "polling"]
