from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from civdesk.db.base import Base, BigId, UtcDateTime, created_at_column


class JobStatus(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"  # claimed; if the lease runs out the worker died and it is due again
    DONE = "done"
    FAILED = "failed"


class JobKind(enum.StrEnum):
    SEND = "send"  # an outbound message to its platform
    FETCH = "fetch"  # an inbound message's files from its platform


class DeliveryJob(Base):
    __tablename__ = "delivery_job"
    __table_args__ = (
        Index("ix_delivery_job_due", "status", "due_at"),
        # A worker claims each channel at that channel's pace (delivery.claims).
        Index("ix_delivery_job_channel_due", "channel_id", "status", "due_at", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("message.id", ondelete="CASCADE"), unique=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channel.id"))
    kind: Mapped[str] = mapped_column(String(16), default=JobKind.SEND.value, server_default=JobKind.SEND.value)
    status: Mapped[str] = mapped_column(String(16), default=JobStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = created_at_column()
