"""The timer loop: fires due timers within about a second of their due time, in any number of workers.

It is event-driven rather than a cron sweep: it sleeps until the earliest pending timer is due (at
most `poll_seconds`, so timers written by other processes are seen within a second), and a timer
committed as due now wakes it through the bus at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from civdesk.core.clock import now
from civdesk.db.session import reading
from civdesk.realtime import bus as bus_module
from civdesk.realtime import service as realtime_service
from civdesk.timer import service as timer_service
from civdesk.timer.service import ClaimedTimer

log = logging.getLogger(__name__)

# A handler does its timer's work in the given session; the worker commits it with the timer's end.
Handler = Callable[[AsyncSession, ClaimedTimer], Awaitable[None]]


class TimerWorker:
    def __init__(
        self,
        *,
        sessionmaker: async_sessionmaker[AsyncSession],
        handlers: Mapping[str, Handler],
        poll_seconds: float = 1.0,
        lease_seconds: float = 60.0,
        batch_size: int = 200,
        per_transaction: int = 25,
        concurrency: int = 4,
        max_attempts: int = 8,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._handlers = dict(handlers)
        self._poll_seconds = poll_seconds
        self._lease_seconds = lease_seconds
        self._batch_size = batch_size
        self._per_transaction = per_transaction
        self._slots = asyncio.Semaphore(concurrency)
        self._max_attempts = max_attempts

    async def run(self, stop: asyncio.Event) -> None:
        async with bus_module.current().subscribe(bus_module.TIMER_TOPIC) as wakeups:
            while not stop.is_set():
                try:
                    fired = await self.run_once()
                except Exception:
                    log.exception("timer round failed; retrying shortly")
                    fired = 0
                if fired >= self._batch_size:
                    continue  # a full batch: more are probably due
                # Fewer than a batch: nothing else was due at the claim. Anything scheduled since woke
                # us (it is queued in `wakeups`), so skip the claim that would find nothing, which
                # would otherwise follow every new conversation's route timer.
                # The timeout first: a `wakeups.get()` made before it would be left unawaited if the
                # worker is stopped while the next due time is read.
                timeout = await self._sleep_seconds()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wakeups.get(), timeout=timeout)
                while not wakeups.empty():
                    wakeups.get_nowait()

    async def _sleep_seconds(self) -> float:
        async with reading(self._sessionmaker) as session:
            due = await timer_service.next_due(session=session)
        if due is None:
            return self._poll_seconds
        return max(0.0, min(self._poll_seconds, (due - now()).total_seconds()))

    async def run_once(self) -> int:
        """Fires the timers due now; returns how many were claimed."""
        async with self._sessionmaker() as session:
            claimed = await timer_service.claim_due(
                session=session, limit=self._batch_size, lease_seconds=self._lease_seconds
            )
            await session.commit()
        if claimed:
            step = self._per_transaction
            await asyncio.gather(*(self._fire_together(claimed[i : i + step]) for i in range(0, len(claimed), step)))
        return len(claimed)

    async def _fire_together(self, timers: list[ClaimedTimer]) -> None:
        """Fires several timers in one transaction (a burst of due timers costs one commit per group,
        not per timer). If any fails, the group rolls back and the timers not yet done are fired one
        by one, so one bad timer neither blocks nor repeats the others."""
        async with self._slots:
            try:
                async with self._sessionmaker() as session:
                    for timer in timers:
                        await self._run(session, timer)
                        await timer_service.finish(session=session, timer_id=timer.id)
                    await realtime_service.commit(session)
                return
            except Exception:
                log.warning("a group of %d timers failed; firing them one by one", len(timers), exc_info=True)
            async with self._sessionmaker() as session:
                # A handler may have committed part of the group itself (a queue drain commits per case).
                open_ids = set(await timer_service.still_running(session=session, ids=[t.id for t in timers]))
        for timer in timers:
            if timer.id in open_ids:
                await self._guarded(timer)

    async def _run(self, session: AsyncSession, timer: ClaimedTimer) -> None:
        handler = self._handlers.get(timer.kind)
        if handler is None:
            log.error("timer %s has unknown kind %r; dropping it", timer.id, timer.kind)
            return
        await handler(session, timer)

    async def _guarded(self, timer: ClaimedTimer) -> None:
        async with self._slots:
            try:
                await self.fire(timer)
            except Exception as error:
                log.exception("timer %s (%s) failed", timer.id, timer.kind)
                give_up = timer.attempts >= self._max_attempts
                async with self._sessionmaker() as session:
                    await timer_service.retry(
                        session=session,
                        timer_id=timer.id,
                        error=repr(error),
                        after_seconds=float(min(2**timer.attempts, 300)),
                        give_up=give_up,
                    )
                    await session.commit()

    async def fire(self, timer: ClaimedTimer) -> None:
        """Runs the handler and marks the timer done in one transaction: done means its work is committed."""
        async with self._sessionmaker() as session:
            await self._run(session, timer)
            await timer_service.finish(session=session, timer_id=timer.id)
            await realtime_service.commit(session)
