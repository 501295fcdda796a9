from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from civdesk.db.base import Base, BigId, created_at_column


class Rating(Base):
    """A citizen's 1–5 score of a resolved conversation. One per conversation: a second answer
    replaces the first (a citizen may change their mind), it never counts twice in CSAT."""

    __tablename__ = "rating"
    __table_args__ = (Index("ix_rating_agency_created", "agency_id", "created_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversation.id", ondelete="CASCADE"), unique=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id", ondelete="CASCADE"))
    score: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The channel type it was asked in (webchat today, every messenger next).
    channel: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = created_at_column()
