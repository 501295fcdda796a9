from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from civdesk.db.base import Base, BigId, created_at_column


class Agency(Base):
    __tablename__ = "agency"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    time_zone: Mapped[str] = mapped_column(String(64), default="Europe/Kyiv")
    created_at: Mapped[datetime] = created_at_column()


class Topic(Base):
    """A queue within an agency: субсидії, пенсії …"""

    __tablename__ = "topic"
    __table_args__ = (UniqueConstraint("agency_id", "slug", name="uq_topic_agency_slug"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id", ondelete="CASCADE"), index=True)
    slug: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = created_at_column()
