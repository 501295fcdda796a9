"""Presence: the current state per agent, and every change as a row (agent activity time for KPIs)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from civdesk.db.base import Base, BigId, UtcDateTime, created_at_column


class PresenceStatus(enum.StrEnum):
    ONLINE = "online"
    AWAY = "away"
    OFFLINE = "offline"


class PresenceCause(enum.StrEnum):
    AGENT = "agent"  # the agent chose it
    CONSOLE_CLOSED = "console_closed"  # no console connection for longer than the grace period


class AgentPresence(Base):
    """One row per agent. `seen_at` is a lease: every open console connection renews it, and an
    agent whose lease ran out is set offline, even when the process holding the socket died."""

    __tablename__ = "agent_presence"

    agent_id: Mapped[int] = mapped_column(ForeignKey("agent.id", ondelete="CASCADE"), primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=PresenceStatus.OFFLINE.value)
    changed_at: Mapped[datetime] = created_at_column()
    seen_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class PresenceChange(Base):
    """Append-only: the time between an agent's changes is their online/away time."""

    __tablename__ = "presence_change"
    __table_args__ = (
        Index("ix_presence_change_agent", "agent_id", "id"),
        Index("ix_presence_change_agency_time", "agency_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id", ondelete="CASCADE"))
    agent_id: Mapped[int] = mapped_column(ForeignKey("agent.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16))
    previous: Mapped[str] = mapped_column(String(16))
    cause: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = created_at_column()
