"""The outbox. A job is committed with its reply; workers claim due jobs and record outcomes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from civdesk.channel.models import Channel
from civdesk.core.clock import now
from civdesk.db import writes
from civdesk.db.session import connection_of
from civdesk.delivery.models import DeliveryJob, JobKind, JobStatus
from civdesk.realtime import bus as bus_module
from civdesk.realtime import service as realtime_service


@dataclass(frozen=True)
class ClaimedJob:
    job_id: int
    message_id: int
    channel_id: int
    attempts: int
    kind: str = JobKind.SEND.value


_job = cast(Table, DeliveryJob.__table__)


async def queue(*, session: AsyncSession, message_id: int, channel_id: int, kind: JobKind = JobKind.SEND) -> None:
    """Adds a job to the caller's transaction (on PostgreSQL it travels with the transaction's next
    statement, usually the events' at commit) and wakes the workers once it commits."""
    moment = now()
    row = {
        "message_id": message_id,
        "channel_id": channel_id,
        "kind": kind.value,
        "status": JobStatus.PENDING.value,
        "attempts": 0,
        "due_at": moment,
        "last_error": None,
        "created_at": moment,  # every column: a write that travels as a CTE gets no Python-side defaults
    }
    await writes.later(await connection_of(session), writes.inserting(_job, row))
    realtime_service.notify_after_commit(session=session, topic=bus_module.DELIVERY_TOPIC)
_DUE = _job.c.due_at <= bindparam("moment")
_PENDING = _job.c.status == JobStatus.PENDING.value
_CLAIMABLE = _job.c.status.in_((JobStatus.PENDING.value, JobStatus.SENDING.value))
_FINISH = update(_job).where(_job.c.id == bindparam("job_id")).values(status=JobStatus.DONE.value, last_error=None)
# A lease that ran out (its worker died mid-send) makes the job pending again.
_RELEASE = (
    update(_job).where(_job.c.status == JobStatus.SENDING.value, _DUE).values(status=JobStatus.PENDING.value)
)


async def claim_due(
    *, session: AsyncSession, limit: int, lease_seconds: float, channel_id: int | None = None
) -> list[ClaimedJob]:
    """Takes due jobs for this worker, of one channel or of any. SKIP LOCKED lets workers share on
    PostgreSQL; one UPDATE … RETURNING claims the whole batch in one round trip.

    Across channels, a job whose lease ran out is claimed as it is, so nothing is lost across a restart.
    For one channel only pending jobs are taken: a single range of ix_delivery_job_channel_due, already
    in claim order, so a claim reads `limit` rows rather than sorting the channel's whole backlog
    (`due_channels` makes jobs with a lapsed lease pending first)."""
    moment = now()
    if channel_id is None:
        chosen = select(_job.c.id).where(_CLAIMABLE, _DUE)
    else:
        chosen = select(_job.c.id).where(_job.c.channel_id == channel_id, _PENDING, _DUE)
    chosen = chosen.order_by(_job.c.due_at, _job.c.id).limit(limit).with_for_update(skip_locked=True)
    rows = await session.execute(
        update(_job)
        .where(_job.c.id.in_(chosen.scalar_subquery()))
        .values(
            status=JobStatus.SENDING.value,
            attempts=_job.c.attempts + 1,
            due_at=moment + timedelta(seconds=lease_seconds),
        )
        .returning(_job.c.id, _job.c.message_id, _job.c.channel_id, _job.c.attempts, _job.c.kind),
        {"moment": moment},
    )
    claimed = [
        ClaimedJob(job_id=r.id, message_id=r.message_id, channel_id=r.channel_id, attempts=r.attempts, kind=r.kind)
        for r in rows
    ]
    return sorted(claimed, key=lambda j: j.job_id)  # RETURNING promises no order


async def due_channels(*, session: AsyncSession, release_lapsed: bool = True) -> list[tuple[int, str]]:
    """(id, type) of the channels with a due job, after releasing lapsed leases if asked: one index
    probe per channel, not a scan of the backlog."""
    moment = now()
    if release_lapsed:
        await session.execute(_RELEASE, {"moment": moment})
    due = select(_job.c.id).where(_job.c.channel_id == Channel.id, _PENDING, _DUE).exists()
    rows = await session.execute(select(Channel.id, Channel.type).where(due).order_by(Channel.id), {"moment": moment})
    return [(r.id, r.type) for r in rows]


async def finish_by_id(*, session: AsyncSession, job_id: int) -> None:
    await session.execute(_FINISH, {"job_id": job_id})


async def get(*, session: AsyncSession, job_id: int) -> DeliveryJob | None:
    return await session.get(DeliveryJob, job_id)


def finish(*, job: DeliveryJob) -> None:
    job.status = JobStatus.DONE.value
    job.last_error = None


def fail(*, job: DeliveryJob, reason: str) -> None:
    job.status = JobStatus.FAILED.value
    job.last_error = reason


def retry(*, job: DeliveryJob, reason: str, after_seconds: float) -> None:
    job.status = JobStatus.PENDING.value
    job.last_error = reason
    job.due_at = now() + timedelta(seconds=after_seconds)


def backoff_seconds(attempts: int) -> float:
    """1, 2, 4 … seconds, capped at five minutes."""
    return float(min(2 ** max(attempts - 1, 0), 300))
