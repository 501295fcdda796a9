"""The delivery worker: claims due jobs, sends through the channel's adapter, records outcomes.

Runs in-process in the embedded mode and as `civdesk worker` processes in the distributed one.
No database transaction stays open while a platform is being called.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from civdesk.channel import service as channel_service
from civdesk.channels.base import (
    Button,
    ChannelError,
    OutboundFile,
    OutboundMessage,
    RecipientUnreachable,
    RetryLater,
    SendFailed,
)
from civdesk.conversation import outbound, receipts
from civdesk.conversation.outbound import OutboundWork
from civdesk.delivery import service as delivery_service
from civdesk.delivery.models import JobKind
from civdesk.delivery.pacing import LocalPacer, Pacer
from civdesk.delivery.service import ClaimedJob
from civdesk.files.service import Files
from civdesk.realtime import bus as bus_module
from civdesk.realtime import service as realtime_service

log = logging.getLogger(__name__)

BLOCKED_REASON = "the citizen blocked the bot"
# A send waits for its pacing slot only this long; a later slot puts the job back instead, so
# no worker holds a job past its lease.
MAX_PACING_WAIT = 5.0


@dataclass(frozen=True)
class Outcome:
    kind: str  # delivered | retry | failed | done
    reason: str = ""
    after: float = 0.0
    unreachable: bool = False
    platform_key: str | None = None
    awaits_receipt: bool = False


class DeliveryWorker:
    def __init__(
        self,
        *,
        sessionmaker: async_sessionmaker[AsyncSession],
        files: Files | None = None,
        public_url: str = "",
        pacer: Pacer | None = None,
        max_attempts: int = 8,
        poll_seconds: float = 0.5,
        lease_seconds: float = 60.0,
        batch_size: int = 50,
        concurrency: int = 32,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._files = files
        self._public_url = public_url.rstrip("/")
        self._pacer: Pacer = pacer or LocalPacer()
        self._max_attempts = max_attempts
        self._poll_seconds = poll_seconds
        self._lease_seconds = lease_seconds
        self._batch_size = batch_size
        self._slots = asyncio.Semaphore(concurrency)

    async def run(self, stop: asyncio.Event) -> None:
        """Drains due jobs; sleeps until woken by a new job or the poll interval (due retries)."""
        async with bus_module.current().subscribe(bus_module.DELIVERY_TOPIC) as wakeups:
            while not stop.is_set():
                try:
                    handled = await self.run_once()
                except Exception:
                    log.exception("delivery round failed; retrying shortly")
                    handled = 0
                if handled:
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wakeups.get(), timeout=self._poll_seconds)
                while not wakeups.empty():
                    wakeups.get_nowait()

    async def run_once(self) -> int:
        async with self._sessionmaker() as session:
            claimed = await delivery_service.claim_due(
                session=session, limit=self._batch_size, lease_seconds=self._lease_seconds
            )
            await session.commit()
        if claimed:
            await asyncio.gather(*(self._guarded(job) for job in claimed))
        return len(claimed)

    async def _guarded(self, job: ClaimedJob) -> None:
        async with self._slots:
            try:
                if job.kind == JobKind.FETCH.value:
                    await self.fetch(job)
                else:
                    await self.deliver(job)
            except Exception:
                # The lease runs out and the job is claimed again: nothing is lost.
                log.exception("job %s crashed", job.job_id)

    async def deliver(self, job: ClaimedJob) -> None:
        async with self._sessionmaker() as session:
            work = await outbound.load(session=session, message_id=job.message_id)
            await session.commit()
        if work is None or work.already_settled or not work.is_outbound:
            return await self._settle(job, Outcome("done"))  # never send a citizen's or internal message
        if work.recipient_external_id is None:
            return await self._settle(job, Outcome("failed", "the citizen has no address on this channel"))
        if work.recipient_blocked:
            return await self._settle(job, Outcome("failed", BLOCKED_REASON, unreachable=True))
        adapter = channel_service.adapter(work.channel)
        try:
            message = self._outbound_message(work, work.recipient_external_id)
        except ChannelError as exc:
            return await self._settle(job, Outcome("failed", exc.reason))
        wait = await self._pacer.reserve(
            channel_id=work.channel.id,
            recipient=work.recipient_external_id,
            limits=adapter.limits,
            max_wait=MAX_PACING_WAIT,
        )
        if wait < 0:
            reason = f"waiting for the platform's sending limit (about {int(-wait) + 1} s)"
            return await self._settle(job, Outcome("retry", reason, after=-wait), count_attempt=False)
        await asyncio.sleep(wait)
        await self._settle(job, await self._send(job, work, message))

    async def _send(self, job: ClaimedJob, work: OutboundWork, message: OutboundMessage) -> Outcome:
        adapter = channel_service.adapter(work.channel)
        try:
            result = await adapter.send(account=channel_service.account(work.channel), message=message)
        except RetryLater as exc:
            await self._pacer.slow_down(
                channel_id=work.channel.id,
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
        return OutboundMessage(
            recipient_external_id=recipient,
            text=work.message.text,
            buttons=buttons,
            file=file,
            template=work.message.template,
        )

    async def fetch(self, job: ClaimedJob) -> None:
        """Downloads an inbound message's files from the platform and stores them with civdesk."""
        async with self._sessionmaker() as session:
            work = await outbound.load(session=session, message_id=job.message_id)
            await session.commit()
        if work is None or self._files is None:
            return await self._settle(job, Outcome("done"))
        adapter = channel_service.adapter(work.channel)
        account = channel_service.account(work.channel)
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
        async with self._sessionmaker() as session:
            row = await delivery_service.get(session=session, job_id=job.job_id)
            if row is not None:
                delivery_service.finish(job=row)
            await outbound.record_files(session=session, message_id=job.message_id, updates=fetched)
            await realtime_service.commit(session)

    async def _settle(self, job: ClaimedJob, outcome: Outcome, *, count_attempt: bool = True) -> None:
        """Records the outcome of one attempt in one transaction; events go out after commit."""
        async with self._sessionmaker() as session:
            row = await delivery_service.get(session=session, job_id=job.job_id)
            work = await outbound.load(session=session, message_id=job.message_id)
            if row is None:
                return
            if outcome.kind == "done" or work is None:
                delivery_service.finish(job=row)
            elif outcome.kind == "delivered":
                delivery_service.finish(job=row)
                await outbound.mark_sent(
                    session=session,
                    message=work.message,
                    platform_key=outcome.platform_key,
                    awaits_receipt=outcome.awaits_receipt,
                )
            elif outcome.kind == "retry":
                delivery_service.retry(job=row, reason=outcome.reason, after_seconds=outcome.after)
                if not count_attempt:
                    row.attempts -= 1  # waiting for a pacing slot is not a failed attempt
                if outcome.reason:
                    outbound.note_retry(session=session, message=work.message, reason=outcome.reason)
            else:
                delivery_service.fail(job=row, reason=outcome.reason)
                await outbound.mark_failed(
                    session=session,
                    message=work.message,
                    reason=outcome.reason,
                    recipient_unreachable=outcome.unreachable,
                )
            await realtime_service.commit(session)
        if outcome.kind == "delivered" and outcome.platform_key:
            await receipts.settle_parked(sessionmaker=self._sessionmaker, keys=[(job.channel_id, outcome.platform_key)])
        if outcome.kind == "failed":
            log.warning("job %s failed: %s", job.job_id, outcome.reason)
