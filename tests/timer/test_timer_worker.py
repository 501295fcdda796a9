"""The timer loop fires a burst together, and one failing timer neither blocks nor repeats the rest."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from civdesk.core.clock import now
from civdesk.db.session import create_engine_for, create_sessionmaker
from civdesk.timer import service as timer_service
from civdesk.timer.models import Timer
from civdesk.timer.service import ClaimedTimer
from civdesk.timer.worker import TimerWorker


async def test_a_failing_timer_is_retried_alone_and_the_others_fire_once(database_url: str) -> None:
    engine = create_engine_for(database_url)
    sessionmaker = create_sessionmaker(engine)
    fired: list[int] = []

    async def probe(session: AsyncSession, timer: ClaimedTimer) -> None:
        fired.append(timer.id)
        # The handler's work, in its transaction: what must happen once however often it ran.
        await timer_service.schedule(session=session, kind="mark", due_at=now() + timedelta(days=1),
                                     payload={"for": timer.id})

    async def boom(session: AsyncSession, timer: ClaimedTimer) -> None:
        raise RuntimeError("the handler broke")

    try:
        async with sessionmaker() as session:
            for kind in ("probe", "probe", "boom", "probe"):
                await timer_service.schedule(session=session, kind=kind, due_at=now())
            await timer_service.schedule(session=session, kind="probe", due_at=now() + timedelta(hours=1))
            await session.commit()
        worker = TimerWorker(sessionmaker=sessionmaker, handlers={"probe": probe, "boom": boom}, per_transaction=10)
        assert await worker.run_once() == 4
        assert await worker.run_once() == 0  # the failed one waits for its backoff; the later one is not due
        async with sessionmaker() as session:
            rows = {t.kind + str(t.id): t for t in await session.scalars(select(Timer).order_by(Timer.id))}
        marks = sorted(t.payload["for"] for t in rows.values() if t.kind == "mark")
        statuses = [(t.kind, t.status, t.attempts) for t in rows.values() if t.kind != "mark"]
        # Timers scheduled in one transaction have no order among themselves (on PostgreSQL they go in
        # as one statement): compare what happened to each, not their ids.
        assert sorted(statuses) == sorted([
            ("probe", "done", 1),
            ("probe", "done", 1),
            ("boom", "pending", 1),
            ("probe", "done", 1),
            ("probe", "pending", 0),
        ])
        # The group with the failing timer rolled back, so its others ran again alone: their work is
        # committed exactly once all the same.
        assert sorted(set(fired)) == marks and len(marks) == 3
        [failed] = [t for t in rows.values() if t.kind == "boom"]
        assert "the handler broke" in (failed.last_error or "")
    finally:
        await engine.dispose()
