from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from civdesk.db.base import Base, BigId, created_at_column


class Agency(Base):
    __tablename__ = "agency"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    time_zone: Mapped[str] = mapped_column(String(64), default="Europe/Kyiv")
    # Languages citizens may choose, the first being the one every agent speaks.
    languages: Mapped[list[Any]] = mapped_column(JSON, default=lambda: ["uk"])
    # {"mon": [["08:00", "17:00"]], …} in the agency's time zone; null means always open.
    working_hours: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # The bot offers the topics as buttons before a human takes the conversation.
    triage_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # Citizens waiting in the queue are told their position and expected wait.
    queue_notices: Mapped[bool] = mapped_column(Boolean, default=False)
    # For topics that do not set their own; manual pull keeps today's behaviour for new agencies.
    default_strategy: Mapped[str] = mapped_column(String(16), default="manual")
    reassign_after_seconds: Mapped[int] = mapped_column(Integer, default=300)
    first_response_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True, default=600)
    next_response_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True, default=900)
    resolution_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True, default=172800)
    created_at: Mapped[datetime] = created_at_column()


class Holiday(Base):
    """A day the agency is closed, whatever its weekly hours say."""

    __tablename__ = "holiday"

    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), default="")


class Topic(Base):
    """A queue within an agency: субсидії, пенсії …"""

    __tablename__ = "topic"
    __table_args__ = (UniqueConstraint("agency_id", "slug", name="uq_topic_agency_slug"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id", ondelete="CASCADE"), index=True)
    slug: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(255))
    # The name in other languages, for the triage buttons: {"en": "Housing subsidies"}.
    names: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Words that send a free-text question here (matched on word starts, so inflections match too).
    keywords: Mapped[list[Any]] = mapped_column(JSON, default=list)
    strategy: Mapped[str | None] = mapped_column(String(16), nullable=True)  # null: the agency's default
    priority: Mapped[int] = mapped_column(Integer, default=0)  # higher is served first
    reassign_after_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)
    first_response_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)
    next_response_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)
    resolution_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = created_at_column()
