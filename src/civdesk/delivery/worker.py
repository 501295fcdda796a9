"""The delivery worker: claims due jobs, sends through the channel's adapter, records outcomes.

Runs in-process in the embedded mode and as `civdesk worker` processes in the distributed one.
No database transaction stays open while a platform is being called, and the database work of all
jobs in flight passes through `db_concurrency` sessions at most: jobs sleeping for their pacing slot
or waiting for a platform hold no connection, so a worker never grows its pool past its size.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from civdesk.channel import service as channel_service
from civdesk.channels import registry
from civdesk.delivery import service as delivery_service
from civdesk.delivery.claims import ChannelClaims
from civdesk.delivery.jobs import JobRunner
from civdesk.delivery.models import JobKind
from civdesk.delivery.pacing import LocalPacer, Pacer
from civdesk.delivery.service import ClaimedJob
from civdesk.files.service import Files
from civdesk.realtime import bus as bus_module

log = logging.getLogger(__name__)
T = TypeVar("T")

# With a backlog the worker looks at every due channel's pace this often; a claim per look is not
# needed (see claims.CLAIM_FRACTION), a look is one Redis round trip for all channels.
CLAIM_TICK = 0.1
RELEASE_EVERY = 5.0


class DeliveryWorker(JobRunner):
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
        concurrency: int = 128,
        db_concurrency: int = 8,
    ) -> None:
        self._claims = ChannelClaims()
        super().__init__(
            sessionmaker=sessionmaker,
            files=files,
            public_url=public_url,
            pacer=pacer or LocalPacer(),
            max_attempts=max_attempts,
            db_concurrency=db_concurrency,
            on_booked=lambda job: self._claims.booked(channel_id=job.channel_id, job_id=job.job_id),
        )
        self._poll_seconds = poll_seconds
        self._lease_seconds = lease_seconds
        self._batch_size = batch_size
        self._concurrency = concurrency
        self._tasks: set[asyncio.Task[None]] = set()
        self._release_at = 0.0

    async def run(self, stop: asyncio.Event) -> None:
        """Keeps up to `concurrency` jobs in flight, claiming per channel as its pace allows. Sleeps
        until woken by a new job, the next look at the pace, or the poll interval (due retries)."""
        await self._preload()
        look_at = 0.0  # when to ask the database which channels have due jobs
        async with bus_module.current().subscribe(bus_module.DELIVERY_TOPIC) as wakeups:
            while not stop.is_set():
                pause = CLAIM_TICK
                try:
                    if time.monotonic() >= look_at:
                        look_at = time.monotonic() + self._poll_seconds
                        await self._find_due()
                    await self._claim_round()
                except Exception:
                    log.exception("delivery round failed; retrying shortly")
                    pause = self._poll_seconds  # the database or Redis is away: no round every tick
                if not self._claims.due_channels():
                    pause = max(look_at - time.monotonic(), 0.0)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wakeups.get(), timeout=pause)
                    look_at = 0.0  # a job was queued: look now
                while not wakeups.empty():
                    wakeups.get_nowait()
            # Let the jobs in flight record their outcome: a send cut off after the platform took it
            # would be sent again once its lease runs out.
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def run_once(self) -> int:
        """One claim of up to `batch_size` due jobs of any channel, all handled before it returns
        (for tests and tools; `run` is the worker's loop)."""
        claimed = await self._claim(limit=self._batch_size)
        for job in claimed:
            self._claims.claimed(channel_id=job.channel_id, job_id=job.job_id)
        await asyncio.gather(*(self._guarded(job) for job in claimed))
        return len(claimed)

    async def _preload(self) -> None:
        """Imports every adapter the channels use before the first claim. Loaded on first use instead,
        aiogram's import (seconds) would stall every job in flight, and the pacer's Redis connections
        would time out meanwhile. The import runs in a thread so the embedded web server keeps serving."""
        try:
            types = await self._db_section(lambda session: channel_service.types_in_use(session=session))
        except Exception:
            log.exception("could not list the channels' types; adapters load on first use")
            return
        for channel_type in types:
            try:
                await asyncio.to_thread(registry.get, channel_type)
            except Exception:
                log.exception("could not load the %s adapter", channel_type)

    async def _find_due(self) -> None:
        # Leases last a minute: releasing lapsed ones every few seconds is plenty, and spares an idle
        # worker a write transaction every poll (on SQLite even an UPDATE of no row takes the write lock).
        release = time.monotonic() >= self._release_at
        due = await self._db_section(
            lambda session: delivery_service.due_channels(session=session, release_lapsed=release)
        )
        if release:
            self._release_at = time.monotonic() + min(RELEASE_EVERY, self._lease_seconds / 4)
        for channel_id, channel_type in due:
            self._claims.mark_due(channel_id=channel_id, rate=_rate(channel_type))

    async def _claim_round(self) -> None:
        channel_ids = self._claims.due_channels()
        if not channel_ids or len(self._tasks) >= self._concurrency:
            return
        waits = await self._pacer.account_waits(channel_ids=channel_ids)
        for channel_id in channel_ids:
            want = self._claims.room(
                channel_id=channel_id,
                account_wait=waits.get(channel_id, 0.0),
                free=self._concurrency - len(self._tasks),
                batch=self._batch_size,
            )
            if not want:
                continue
            claimed = await self._claim(limit=want, channel_id=channel_id)
            if len(claimed) < want:
                self._claims.drained(channel_id=channel_id)
            for job in claimed:
                self._claims.claimed(channel_id=channel_id, job_id=job.job_id)
                task = asyncio.create_task(self._guarded(job), name=f"delivery-job-{job.job_id}")
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _claim(self, *, limit: int, channel_id: int | None = None) -> list[ClaimedJob]:
        return await self._db_section(
            lambda session: delivery_service.claim_due(
                session=session, limit=limit, lease_seconds=self._lease_seconds, channel_id=channel_id
            )
        )

    async def _guarded(self, job: ClaimedJob) -> None:
        try:
            if job.kind == JobKind.FETCH.value:
                await self.fetch(job)
            else:
                await self.deliver(job)
        except Exception:
            # The lease runs out and the job is claimed again: nothing is lost.
            log.exception("job %s crashed", job.job_id)
        finally:
            self._claims.finished(channel_id=job.channel_id, job_id=job.job_id)

    async def _db_section(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Runs `work` in its own session within the worker's share of the pool, and commits."""
        async def committed(session: AsyncSession) -> T:
            result = await work(session)
            await session.commit()
            return result

        return await self._in_session(committed)


def _rate(channel_type: str) -> float:
    try:
        return registry.get(channel_type).limits.messages_per_second
    except Exception:  # an adapter that cannot load: its jobs crash and wait out their lease anyway
        return 1.0

