"""One job: a reply's send (or an inbound message's file fetch), and the record of its outcome.

A delivered reply costs one SELECT (message, conversation and the citizen's address together; the
channel comes from the process's snapshot cache), the paced send, and one transaction of two UPDATEs
and the event's INSERT. Only on platforms that report receipts does one more SELECT look for a
receipt that overtook the send. Retries and failures are rare and keep the ORM.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from civdesk.channel import service as channel_service
from civdesk.channel.service import ChannelSnapshot
from civdesk.channels.base import (
    Button,
    ChannelAdapter,
    ChannelError,
    OutboundFile,
    OutboundMessage,
    RecipientUnreachable,
    RetryLater,
    SendFailed,
    rich_from_attachments,
)
from civdesk.conversation import outbound, receipts
from civdesk.conversation.outbound import OutboundWork
from civdesk.delivery import service as delivery_service
from civdesk.delivery.pacing import Pacer
from civdesk.delivery.service import ClaimedJob
from civdesk.files.service import Files
from civdesk.realtime import service as realtime_service

log = logging.getLogger(__name__)
T = TypeVar("T")

BLOCKED_REASON = "the citizen blocked the bot"
# A send waits for its pacing slot only this long; a later slot puts the job back instead, so
# no worker holds a job past its lease.
MAX_PACING_WAIT = 5.0
# The pacer itself failed (Redis unreachable): try the job again soon rather than waiting out its lease.
PACER_TROUBLE_RETRY = 1.0


@dataclass(frozen=True)
class Outcome:
    kind: str  # delivered | retry | failed | done
    reason: str = ""
    after: float = 0.0
    unreachable: bool = False
    platform_key: str | None = None
    awaits_receipt: bool = False


class JobRunner:
    def __init__(
        self,
        *,
        sessionmaker: async_sessionmaker[AsyncSession],
        files: Files | None,
        public_url: str,
        pacer: Pacer,
        max_attempts: int,
        db_concurrency: int,
        on_booked: Callable[[ClaimedJob], None] = lambda job: None,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._files = files
        self._public_url = public_url.rstrip("/")
        self._pacer = pacer
        self._max_attempts = max_attempts
        self._db = asyncio.Semaphore(max(1, db_concurrency))
        engine = sessionmaker.kw.get("bind")
        self._reads: AsyncEngine | None = (
            engine.execution_options(isolation_level="AUTOCOMMIT")
            if isinstance(engine, AsyncEngine) and engine.dialect.name == "postgresql"
            else None
        )
        self._on_booked = on_booked

    async def deliver(self, job: ClaimedJob) -> None:
        channel, work = await self._read(lambda db: self._load(db, job))
        if work is None or work.already_settled or not work.is_outbound:
            return await self._settle(job, Outcome("done"))  # never send a citizen's or internal message
        if channel is None:
            return await self._settle(job, Outcome("failed", "the channel no longer exists"))
        if work.recipient_external_id is None:
            return await self._settle(job, Outcome("failed", "the citizen has no address on this channel"))
        if work.recipient_blocked:
            return await self._settle(job, Outcome("failed", BLOCKED_REASON, unreachable=True))
        adapter = channel_service.adapter(channel)
        try:
            message = self._outbound_message(work, work.recipient_external_id)
        except ChannelError as exc:
            return await self._settle(job, Outcome("failed", exc.reason))
        self._on_booked(job)
        held = await self._wait_for_slot(channel_id=channel.id, recipient=work.recipient_external_id, adapter=adapter)
        if held is not None:
            return await self._settle(job, held, count_attempt=False)  # waiting is not a failed attempt
        await self._settle(job, await self._send(job, channel, message), work=work)

    async def _wait_for_slot(self, *, channel_id: int, recipient: str, adapter: ChannelAdapter) -> Outcome | None:
        """Sleeps until this send's pacing slot; None when it may go, or the retry that puts it back."""
        try:
            wait = await self._pacer.reserve(
                channel_id=channel_id, recipient=recipient, limits=adapter.limits, max_wait=MAX_PACING_WAIT
            )
        except Exception:
            log.warning("pacing a send on channel %s failed; trying again shortly", channel_id, exc_info=True)
            return Outcome("retry", after=PACER_TROUBLE_RETRY)
        if wait < 0:
            return Outcome("retry", f"waiting for the platform's sending limit (about {int(-wait) + 1} s)", after=-wait)
        await asyncio.sleep(wait)
        return None

    async def _load(
        self, db: AsyncSession | AsyncConnection, job: ClaimedJob
    ) -> tuple[ChannelSnapshot | None, OutboundWork | None]:
        # The snapshot first: on a cache miss it reads through a session of its own. On SQLite `db` is
        # a session, which takes the pool's one connection only at its first statement, after that.
        channel = await channel_service.snapshot(sessionmaker=self._sessionmaker, channel_id=job.channel_id)
        return channel, await outbound.load(session=db, message_id=job.message_id)

    async def _send(self, job: ClaimedJob, channel: ChannelSnapshot, message: OutboundMessage) -> Outcome:
        adapter = channel_service.adapter(channel)
        try:
            result = await adapter.send(account=channel_service.account(channel), message=message)
        except RetryLater as exc:
            await self._pacer.slow_down(
                channel_id=channel.id,
                seconds=exc.after_seconds,
                recipient=message.recipient_external_id if exc.per_recipient else None,
            )
            return Outcome("retry", exc.reason, after=max(exc.after_seconds, 0.0))
        except RecipientUnreachable as exc:
            return Outcome("failed", exc.reason, unreachable=True)
        except SendFailed as exc:
            if exc.permanent or job.attempts >= self._max_attempts:
                return Outcome("failed", exc.reason)
            return Outcome("retry", exc.reason, after=delivery_service.backoff_seconds(job.attempts))
        return Outcome("delivered", platform_key=result.platform_key, awaits_receipt=result.awaits_receipt)

    def _outbound_message(self, work: OutboundWork, recipient: str) -> OutboundMessage:
        buttons = tuple(Button(title=str(b["title"]), payload=str(b["payload"])) for b in work.message.buttons)
        file = None
        stored = [a for a in work.message.attachments if a.get("stored_key")]
        if stored and self._files is not None:
            meta = stored[0]
            token = self._files.public_token(str(meta["stored_key"]))
            file = OutboundFile(
                name=str(meta.get("name") or "file"),
                mime_type=str(meta.get("mime_type") or "application/octet-stream"),
                data=self._files.read(str(meta["stored_key"])),
                public_url=f"{self._public_url}/files/public/{token}" if self._public_url else None,
            )
        location, contact = rich_from_attachments(work.message.attachments)
        return OutboundMessage(
            recipient_external_id=recipient,
            text=work.message.text,
            buttons=buttons,
            file=file,
            template=work.message.template,
            location=location,
            contact=contact,
        )

    async def fetch(self, job: ClaimedJob) -> None:
        """Downloads an inbound message's files from the platform and stores them with civdesk."""
        channel, work = await self._read(lambda db: self._load(db, job))
        if work is None or channel is None or self._files is None:
            return await self._settle(job, Outcome("done"))
        adapter = channel_service.adapter(channel)
        account = channel_service.account(channel)
        fetched: dict[int, dict[str, object]] = {}
        for index, meta in enumerate(work.message.attachments):
            if not meta.get("file_id") or meta.get("stored_key"):
                continue
            try:
                got = await adapter.fetch_file(account=account, file_id=str(meta["file_id"]))
                stored = self._files.store(data=got.data, mime_type=got.mime_type, name=got.name or meta.get("name"))
                fetched[index] = {
                    "stored_key": stored.key,
                    "mime_type": stored.mime_type,
                    "size": stored.size,
                    "name": stored.name,
                }
            except RetryLater as exc:
                return await self._settle(job, Outcome("retry", exc.reason, after=exc.after_seconds))
            except Exception as exc:  # a refused or unreachable file is noted on it; the message stays
                reason = getattr(exc, "reason", None) or getattr(exc, "message_en", None) or type(exc).__name__
                fetched[index] = {"fetch_error": str(reason)}

        async def record(session: AsyncSession) -> None:
            await delivery_service.finish_by_id(session=session, job_id=job.job_id)
            await outbound.record_files(session=session, message_id=job.message_id, updates=fetched)
            await realtime_service.commit(session)

        await self._in_session(record)

    async def _settle(
        self, job: ClaimedJob, outcome: Outcome, *, work: OutboundWork | None = None, count_attempt: bool = True
    ) -> None:
        """Records the outcome of one attempt in one transaction; events go out after commit."""

        async def record(session: AsyncSession) -> None:
            if outcome.kind == "delivered" and work is not None:
                await delivery_service.finish_by_id(session=session, job_id=job.job_id)
                await outbound.record_sent(
                    session=session, work=work, platform_key=outcome.platform_key, awaits_receipt=outcome.awaits_receipt
                )
            elif outcome.kind in ("done", "delivered"):
                await delivery_service.finish_by_id(session=session, job_id=job.job_id)
            else:
                row = await delivery_service.get(session=session, job_id=job.job_id)
                if row is None:
                    return
                if outcome.kind == "retry":
                    delivery_service.retry(job=row, reason=outcome.reason, after_seconds=outcome.after)
                    if not count_attempt:
                        row.attempts -= 1  # waiting for a pacing slot is not a failed attempt
                    if outcome.reason:
                        await outbound.note_retry(session=session, message_id=job.message_id, reason=outcome.reason)
                else:
                    delivery_service.fail(job=row, reason=outcome.reason)
                    await outbound.mark_failed(
                        session=session,
                        message_id=job.message_id,
                        reason=outcome.reason,
                        recipient_unreachable=outcome.unreachable,
                    )
            await realtime_service.commit(session)

        await self._in_session(record)
        if outcome.kind == "failed":
            log.warning("job %s failed: %s", job.job_id, outcome.reason)
        key = outcome.platform_key
        if outcome.kind != "delivered" or not outcome.awaits_receipt or not key:
            return
        # The second look that closes the race with a receipt parked meanwhile (receipts.settle_parked),
        # after the commit: a receipt committed before it is visible now; one committed after it is the
        # webhook's to match, as it looks again after its own commit.
        if await self._read(lambda db: receipts.any_parked(session=db, channel_id=job.channel_id, platform_key=key)):
            async with self._db:
                await receipts.settle_parked(sessionmaker=self._sessionmaker, keys=[(job.channel_id, key)])

    async def _read(self, work: Callable[[AsyncSession | AsyncConnection], Awaitable[T]]) -> T:
        """A read outside any transaction where the database allows it: on PostgreSQL a SELECT in
        autocommit mode costs one round trip, not three (BEGIN, SELECT, ROLLBACK)."""
        if self._reads is None:
            return await self._in_session(work)
        return await self._retrying(self._reads.connect, work)

    async def _in_session(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Runs `work` in a session of its own, within the worker's share of the pool."""
        return await self._retrying(self._sessionmaker, work)

    async def _retrying(self, open_: Callable[[], Any], work: Callable[[Any], Awaitable[T]]) -> T:
        """A connection the server dropped after the pool's checkout check fails its first statement;
        SQLAlchemy then discards the pool's stale connections, and the one retry gets a fresh one."""
        for attempt in (1, 2):
            async with self._db, open_() as handle:
                try:
                    return await work(handle)
                except DBAPIError as exc:
                    if attempt == 2 or not exc.connection_invalidated:
                        raise
                    log.warning("the database connection was dropped; trying again once")
        raise AssertionError("unreachable")
