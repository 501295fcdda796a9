"""A timer is a row with a `due_at`; workers claim due rows, so nothing fires from memory alone."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from civdesk.db.base import Base, BigId, UtcDateTime, created_at_column


class TimerStatus(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"  # claimed; `due_at` is then the lease's end
    DONE = "done"
    CANCELLED = "cancelled"
    FAILED = "failed"


class Timer(Base):
    __tablename__ = "timer"
    __table_args__ = (
        Index("ix_timer_status_due", "status", "due_at"),
        Index("ix_timer_conversation", "conversation_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id", ondelete="CASCADE"), nullable=True)
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversation.id", ondelete="CASCADE"), nullable=True
    )
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agent.id", ondelete="CASCADE"), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default=TimerStatus.PENDING.value)
    due_at: Mapped[datetime] = mapped_column(UtcDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # At most one pending timer per key (e.g. one queue drain per agency); cleared when it fires.
    dedupe_key: Mapped[str | None] = mapped_column(String(128), nullable=True, unique=True)
    fired_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = created_at_column()
