from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from civdesk.db.base import Base, BigId, created_at_column


class EventRecord(Base):
    """Written in the same transaction as the change, so a reconnecting console can replay it."""

    __tablename__ = "event"
    __table_args__ = (Index("ix_event_agency_id", "agency_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = created_at_column()

    def as_message(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "agency_id": self.agency_id,
            "created_at": self.created_at.isoformat(),
            "payload": self.payload,
        }
