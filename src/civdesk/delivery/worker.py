"""The delivery worker: claims due jobs, sends through the channel's adapter, records outcomes.

Runs in-process in the embedded mode and as `civdesk worker` processes in the distributed one.
No database transaction stays open while a platform is being called.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from civdesk.channel import service as channel_service
from civdesk.channels.base import OutboundMessage, RecipientUnreachable, RetryLater, SendFailed
from civdesk.conversation import outbound
from civdesk.delivery import service as delivery_service
from civdesk.delivery.service import ClaimedJob
from civdesk.realtime import bus as bus_module
from civdesk.realtime import service as realtime_service

log = logging.getLogger(__name__)

BLOCKED_REASON = "the citizen blocked the bot"


class DeliveryWorker:
    def __init__(
        self,
        *,
        sessionmaker: async_sessionmaker[AsyncSession],
        max_attempts: int = 8,
        poll_seconds: float = 0.5,
        lease_seconds: float = 60.0,
        batch_size: int = 50,
        concurrency: int = 32,
    ) -> None:
        self._sessionmaker = sessionmaker
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
                await self.deliver(job)
            except Exception:
                # The lease runs out and the job is claimed again: nothing is lost.
                log.exception("delivery of job %s crashed", job.job_id)

    async def deliver(self, job: ClaimedJob) -> None:
        async with self._sessionmaker() as session:
            work = await outbound.load(session=session, message_id=job.message_id)
            await session.commit()
        if work is None:
            return await self._settle(job, outcome="gone")
        if work.already_settled:
            return await self._settle(job, outcome="done")
        if work.recipient_external_id is None:
            return await self._settle(job, outcome="failed", reason="the citizen has no address on this channel")
        if work.recipient_blocked:
            return await self._settle(job, outcome="failed", reason=BLOCKED_REASON, unreachable=True)
        adapter = channel_service.adapter(work.channel)
        message = OutboundMessage(recipient_external_id=work.recipient_external_id, text=work.message.text)
        try:
            result = await adapter.send(account=channel_service.account(work.channel), message=message)
        except RetryLater as exc:
            await self._settle(job, outcome="retry", reason=exc.reason, after=max(exc.after_seconds, 0.0))
        except RecipientUnreachable as exc:
            await self._settle(job, outcome="failed", reason=exc.reason, unreachable=True)
        except SendFailed as exc:
            if exc.permanent or job.attempts >= self._max_attempts:
                await self._settle(job, outcome="failed", reason=exc.reason)
            else:
                after = delivery_service.backoff_seconds(job.attempts)
                await self._settle(job, outcome="retry", reason=exc.reason, after=after)
        else:
            await self._settle(job, outcome="delivered", platform_key=result.platform_key)

    async def _settle(
        self,
        job: ClaimedJob,
        *,
        outcome: str,
        reason: str = "",
        after: float = 0.0,
        unreachable: bool = False,
        platform_key: str | None = None,
    ) -> None:
        """Records the outcome of one attempt in one transaction; events go out after commit."""
        async with self._sessionmaker() as session:
            row = await delivery_service.get(session=session, job_id=job.job_id)
            work = await outbound.load(session=session, message_id=job.message_id)
            if row is None:
                return
            if outcome in ("gone", "done"):
                delivery_service.finish(job=row)
            elif outcome == "delivered" and work is not None:
                delivery_service.finish(job=row)
                outbound.mark_delivered(session=session, message=work.message, platform_key=platform_key)
            elif outcome == "retry" and work is not None:
                delivery_service.retry(job=row, reason=reason, after_seconds=after)
                outbound.note_retry(session=session, message=work.message, reason=reason)
            elif work is not None:
                delivery_service.fail(job=row, reason=reason)
                await outbound.mark_failed(
                    session=session, message=work.message, reason=reason, recipient_unreachable=unreachable
                )
            await realtime_service.commit(session)
        if outcome == "failed":
            log.warning("job %s failed: %s", job.job_id, reason)
