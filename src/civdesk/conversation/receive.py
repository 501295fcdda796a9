"""One inbound request from a platform, end to end: verify, parse, store, commit, then publish."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from civdesk.channel import service as channel_service
from civdesk.channels.base import ChannelAccount, ChannelAdapter, MalformedPayload, SignatureInvalid
from civdesk.conversation import receipts
from civdesk.conversation.ingest import IngestResult, ingest
from civdesk.core.errors import Forbidden, InvalidInput, NotFound, Unauthorized
from civdesk.realtime import service as realtime_service

log = logging.getLogger(__name__)
_background: set[asyncio.Task[None]] = set()


@dataclass(frozen=True)
class ReceiveOutcome:
    stored: int = 0
    duplicates: int = 0
    ignored_reason: str | None = None
    # What the platform wants in the HTTP answer itself (Viber's welcome message).
    reply_body: Mapping[str, Any] | None = None


async def receive(
    *,
    sessionmaker: async_sessionmaker[AsyncSession],
    channel_type: str,
    channel_id: int,
    headers: Mapping[str, str],
    body: bytes,
    verified: bool = False,
) -> ReceiveOutcome:
    """Returns only after the citizen's message is committed: a 200 to the platform means kept."""
    channel = await channel_service.active_snapshot(sessionmaker=sessionmaker, channel_id=channel_id, type=channel_type)
    if channel is None:
        raise NotFound(f"no active {channel_type} channel {channel_id}", "такого каналу немає")
    adapter = channel_service.adapter(channel)
    account = channel_service.account(channel)
    # Verify and parse before touching the database: a forged or malformed request costs no connection.
    if not verified:
        try:
            adapter.verify(account=account, headers=headers, body=body)
        except SignatureInvalid as exc:
            raise Unauthorized(exc.reason, "підпис запиту не збігається") from None
    try:
        parsed = adapter.parse(body=body)
    except MalformedPayload as exc:
        raise InvalidInput(exc.reason, f"некоректний запит: {exc.reason}") from None
    if not parsed.events:
        log.info("channel %s: ignored update (%s)", channel_id, parsed.ignored_reason)
        return ReceiveOutcome(ignored_reason=parsed.ignored_reason)
    for attempt in (1, 2):
        async with sessionmaker() as session:
            try:
                result = await ingest(session=session, channel=channel, inbound=parsed.events)
                parked = session.info.pop(receipts.PARKED, set())
                await realtime_service.commit(session)
            except DBAPIError as exc:
                # Tried once more: an IntegrityError means two deliveries of one update (or two first
                # messages of one citizen) raced; a connection the server closed after the pool's checkout
                # check fails its next statement (if that was the COMMIT, the data may be stored). Either
                # way the retry finds the winner's rows or the platform key and stores nothing twice.
                if attempt == 2 or not (isinstance(exc, IntegrityError) or exc.connection_invalidated):
                    raise
                await realtime_service.discard(session)
                continue
        if parked:
            await receipts.settle_parked(sessionmaker=sessionmaker, keys=parked)
        _acknowledge_buttons(adapter=adapter, account=account, result=result)
        return ReceiveOutcome(
            stored=len(result.stored_message_ids),
            duplicates=result.duplicates,
            reply_body=adapter.immediate_reply(account=account, events=parsed.events),
        )
    raise AssertionError("unreachable")


def _acknowledge_buttons(*, adapter: ChannelAdapter, account: ChannelAccount, result: IngestResult) -> None:
    for query_id in result.button_queries:
        task = asyncio.create_task(adapter.acknowledge_button(account=account, query_id=query_id))
        _background.add(task)
        task.add_done_callback(_background.discard)


async def handshake(
    *, sessionmaker: async_sessionmaker[AsyncSession], channel_type: str, channel_id: int, params: Mapping[str, str]
) -> str:
    """The platform's GET verification of a webhook URL (Meta's hub.challenge)."""
    channel = await channel_service.active_snapshot(sessionmaker=sessionmaker, channel_id=channel_id, type=channel_type)
    if channel is None:
        raise NotFound(f"no active {channel_type} channel {channel_id}", "такого каналу немає")
    try:
        return channel_service.adapter(channel).handshake(account=channel_service.account(channel), params=params)
    except NotImplementedError:
        raise NotFound(f"{channel_type} webhooks have no handshake", "цей канал не має перевірки вебхука") from None
    except SignatureInvalid as exc:
        raise Forbidden(exc.reason, "перевірочний токен не збігається") from None
