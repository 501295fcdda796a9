"""The outbox. A job is committed with its reply; workers claim due jobs and record outcomes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from civdesk.core.clock import now
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


def queue(*, session: AsyncSession, message_id: int, channel_id: int, kind: JobKind = JobKind.SEND) -> DeliveryJob:
    """Adds a job to the caller's transaction and wakes the workers once it commits."""
    job = DeliveryJob(
        message_id=message_id, channel_id=channel_id, kind=kind.value, status=JobStatus.PENDING.value, due_at=now()
    )
    session.add(job)
    realtime_service.notify_after_commit(session=session, topic=bus_module.DELIVERY_TOPIC)
    return job


async def claim_due(*, session: AsyncSession, limit: int, lease_seconds: float) -> list[ClaimedJob]:
    """Takes due jobs for this worker. A job whose lease ran out (its worker died mid-send)
    is due again, so nothing is lost across a restart. SKIP LOCKED lets workers share on PostgreSQL."""
    moment = now()
    jobs = list(
        await session.scalars(
            select(DeliveryJob)
            .where(
                or_(DeliveryJob.status == JobStatus.PENDING.value, DeliveryJob.status == JobStatus.SENDING.value),
                DeliveryJob.due_at <= moment,
            )
            .order_by(DeliveryJob.due_at, DeliveryJob.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    lease_end = moment + timedelta(seconds=lease_seconds)
    for job in jobs:
        job.status = JobStatus.SENDING.value
        job.attempts += 1
        job.due_at = lease_end
    return [
        ClaimedJob(job_id=j.id, message_id=j.message_id, channel_id=j.channel_id, attempts=j.attempts, kind=j.kind)
        for j in jobs
    ]


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
