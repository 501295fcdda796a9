from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from civdesk.db.base import Base, BigId, created_at_column


class CannedAnswer(Base):
    """A ready answer an agent inserts with "/". The legal reference and official link are kept apart
    from the body because the knowledge base will index and review them (accuracy weighs 30% in QA)."""

    __tablename__ = "canned_answer"
    __table_args__ = (Index("ix_canned_answer_agency_topic", "agency_id", "topic_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id", ondelete="CASCADE"))
    # None: for every topic of the agency.
    topic_id: Mapped[int | None] = mapped_column(ForeignKey("topic.id", ondelete="CASCADE"), nullable=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    legal_reference: Mapped[str | None] = mapped_column(String(500), nullable=True)
    official_url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    created_by_agent_id: Mapped[int | None] = mapped_column(ForeignKey("agent.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = created_at_column()


class ResolutionCode(Base):
    """How a conversation ended ("Роз'яснено", "Передано в ЦНАП" …). A code in use is archived, never
    deleted: resolved conversations and the KPIs counted from them keep pointing at it."""

    __tablename__ = "resolution_code"
    __table_args__ = (UniqueConstraint("agency_id", "title", name="uq_resolution_code_agency_title"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(120))
    position: Mapped[int] = mapped_column(Integer, default=0)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = created_at_column()
