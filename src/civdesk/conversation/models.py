from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from civdesk.db.base import Base, BigId, UtcDateTime, created_at_column


class Status(enum.StrEnum):
    OPEN = "open"
    PENDING = "pending"
    RESOLVED = "resolved"


class Direction(enum.StrEnum):
    IN = "in"
    OUT = "out"
    NOTE = "note"  # internal: never sent to the citizen


class DeliveryStatus(enum.StrEnum):
    RECEIVED = "received"  # inbound, stored
    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"
    NOT_APPLICABLE = "n/a"  # internal notes


class Conversation(Base):
    __tablename__ = "conversation"
    __table_args__ = (
        Index("ix_conversation_agency_status", "agency_id", "status", "last_message_at"),
        Index("ix_conversation_contact_channel_status", "contact_id", "channel_id", "status"),
        Index("ix_conversation_queue", "agency_id", "queued_at"),
        Index("ix_conversation_contact_topic", "contact_id", "topic_id", "resolved_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id", ondelete="CASCADE"))
    channel_id: Mapped[int] = mapped_column(ForeignKey("channel.id"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contact.id"))
    topic_id: Mapped[int | None] = mapped_column(ForeignKey("topic.id"), nullable=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("agent.id"), nullable=True, index=True)
    status: Mapped[str] = mapped_column(String(16), default=Status.OPEN.value)
    created_at: Mapped[datetime] = created_at_column()
    first_response_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_message_at: Mapped[datetime] = created_at_column()
    # Routing: what the citizen chose, where the conversation waits and since when.
    language: Mapped[str | None] = mapped_column(String(8), nullable=True)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    triage_pending: Mapped[bool] = mapped_column(Boolean, default=False)
    queued_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)  # waiting for an agent
    assigned_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # The citizen's oldest message nobody has answered yet (null: nothing is waiting for a reply).
    awaiting_since: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    transfer_count: Mapped[int] = mapped_column(Integer, default=0)
    # An earlier case of the same citizen on the same topic, resolved within 10 working days.
    repeat_of_id: Mapped[int | None] = mapped_column(ForeignKey("conversation.id"), nullable=True)
    # A complaint about an agency can never be transferred to that agency.
    complaint_about_agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id"), nullable=True)
    # How it ended (knowledge.ResolutionCode); codes are archived, never deleted, so this stays valid.
    resolution_code_id: Mapped[int | None] = mapped_column(ForeignKey("resolution_code.id"), nullable=True)


class Message(Base):
    __tablename__ = "message"
    __table_args__ = (
        # The platform's own key makes a redelivered webhook a no-op.
        UniqueConstraint("channel_id", "platform_key", name="uq_message_channel_platform_key"),
        Index("ix_message_conversation_id", "conversation_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversation.id", ondelete="CASCADE"))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id", ondelete="CASCADE"))
    channel_id: Mapped[int] = mapped_column(ForeignKey("channel.id"))
    direction: Mapped[str] = mapped_column(String(8))
    author_agent_id: Mapped[int | None] = mapped_column(ForeignKey("agent.id"), nullable=True)
    text: Mapped[str] = mapped_column(Text, default="")
    # [{"kind": "photo", "file_id": …, "mime_type": …, "size": …, "name": …}]; files come in issue 3.
    attachments: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # Quick replies offered with an outbound message: [{"title": …, "payload": …}].
    buttons: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # WhatsApp outside its 24-hour window: the approved template this message is sent as.
    template: Mapped[str | None] = mapped_column(String(128), nullable=True)
    platform_key: Mapped[str | None] = mapped_column(String(128), nullable=True)
    delivery_status: Mapped[str] = mapped_column(String(16))
    delivery_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = created_at_column()


class EarlyReceipt(Base):
    """A receipt that arrived before our own send was recorded (fast platforms overtake us)."""

    __tablename__ = "early_receipt"
    __table_args__ = (Index("ix_early_receipt_channel_key", "channel_id", "platform_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channel.id", ondelete="CASCADE"))
    platform_key: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = created_at_column()
