"""Long polling (Telegram getUpdates) for deployments without a public HTTPS address."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from civdesk.channel import service as channel_service
from civdesk.channels.base import ChannelError
from civdesk.conversation.receive import receive
from civdesk.core.errors import CivdeskError
from civdesk.db.session import reading

log = logging.getLogger(__name__)


class Poller:
    """One loop per polling channel. The offset is saved only after the updates are committed,
    so a crash re-fetches them and the platform keys make the repeat harmless."""

    def __init__(self, *, sessionmaker: async_sessionmaker[AsyncSession], timeout_seconds: int = 25) -> None:
        self._sessionmaker = sessionmaker
        self._timeout = timeout_seconds

    async def run(self, stop: asyncio.Event) -> None:
        async with reading(self._sessionmaker) as session:
            channel_ids = [c.id for c in await channel_service.polling_channels(session=session)]
        if not channel_ids:
            return
        async with asyncio.TaskGroup() as group:
            for channel_id in channel_ids:
                group.create_task(self._poll_channel(channel_id, stop))

    async def _poll_channel(self, channel_id: int, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.poll_once(channel_id)
            except (ChannelError, CivdeskError) as exc:
                log.warning("polling channel %s: %s", channel_id, exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=2)

    async def poll_once(self, channel_id: int, timeout_seconds: int | None = None) -> int:
        async with reading(self._sessionmaker) as session:
            channel = await channel_service.get(session=session, channel_id=channel_id)
            adapter, account, offset = (
                channel_service.adapter(channel),
                channel_service.account(channel),
                channel.poll_offset,
            )
            channel_type = channel.type
        bodies, next_offset = await adapter.fetch_updates(
            account=account,
            offset=offset,
            timeout_seconds=self._timeout if timeout_seconds is None else timeout_seconds,
        )
        for body in bodies:
            try:
                await receive(
                    sessionmaker=self._sessionmaker,
                    channel_type=channel_type,
                    channel_id=channel_id,
                    headers={},
                    body=body,
                    verified=True,
                )
            except CivdeskError as exc:
                log.warning("channel %s: skipped an update we cannot parse: %s", channel_id, exc)
        if next_offset != offset:
            async with self._sessionmaker() as session:
                channel = await channel_service.get(session=session, channel_id=channel_id)
                channel.poll_offset = next_offset
                await session.commit()
        return len(bodies)
