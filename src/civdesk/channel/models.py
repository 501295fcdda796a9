from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from civdesk.db.base import Base, BigId, created_at_column


class Channel(Base):
    __tablename__ = "channel"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(255))
    # Non-secret settings (api_base, receive mode, bot username): safe to show.
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Tokens and webhook secrets: never logged, never returned by the API (repr hides them too).
    secrets: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Long-polling cursor (Telegram getUpdates offset) for deployments without public HTTPS.
    poll_offset: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_at: Mapped[datetime] = created_at_column()

    def __repr__(self) -> str:
        return f"Channel(id={self.id!r}, type={self.type!r}, agency_id={self.agency_id!r})"
