from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from civdesk.db.base import Base, BigId, created_at_column


class Contact(Base):
    """One citizen as one channel knows them. Contacts found to be the same person (the same phone
    number on two messengers, or linked by an agent) share a `person_id`: their histories join."""

    __tablename__ = "contact"
    __table_args__ = (Index("ix_contact_agency_phone", "agency_id", "phone"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id", ondelete="CASCADE"), index=True)
    display_name: Mapped[str] = mapped_column(String(255))
    language: Mapped[str | None] = mapped_column(String(16), nullable=True)
    created_at: Mapped[datetime] = created_at_column()
    # The citizen's own number, digits only, when a platform vouches for it (WhatsApp's wa_id, a
    # Telegram contact the citizen shared of themselves).
    phone: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # The contact id that stands for the whole person; None until linked (the contact alone).
    person_id: Mapped[int | None] = mapped_column(ForeignKey("contact.id"), nullable=True, index=True)


class ContactIdentity(Base):
    """The citizen as one platform knows them (a Telegram chat id, a web chat session)."""

    __tablename__ = "contact_identity"
    __table_args__ = (UniqueConstraint("channel_id", "external_id", name="uq_contact_identity_channel_external"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contact.id", ondelete="CASCADE"), index=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channel.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(128))
    username: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # Set when the citizen blocked the bot / unsubscribed: sends would fail anyway.
    is_blocked: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = created_at_column()
