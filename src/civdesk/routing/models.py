"""Routing's own rows: skills, load, decisions, transfers, breaches, and which agencies accept transfers."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Computed, Double, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from civdesk.db.base import Base, BigId, UtcDateTime, created_at_column


class Strategy(enum.StrEnum):
    BALANCED = "balanced"  # the least loaded among the skilled and online
    ROUND_ROBIN = "round_robin"  # the skilled and online agent who was given one longest ago
    MANUAL = "manual"  # waits in the queue until an agent takes it


class AgentSkill(Base):
    """An agent answers questions on a topic, at a level (1 basic … 5 expert)."""

    __tablename__ = "agent_skill"
    __table_args__ = (Index("ix_agent_skill_topic", "topic_id", "agent_id"),)

    agent_id: Mapped[int] = mapped_column(ForeignKey("agent.id", ondelete="CASCADE"), primary_key=True)
    topic_id: Mapped[int] = mapped_column(ForeignKey("topic.id", ondelete="CASCADE"), primary_key=True)
    level: Mapped[int] = mapped_column(Integer, default=3)


class AgentLanguage(Base):
    """A language an agent answers in besides the agency's first one, at a level."""

    __tablename__ = "agent_language"
    __table_args__ = (Index("ix_agent_language_language", "language", "agent_id"),)

    agent_id: Mapped[int] = mapped_column(ForeignKey("agent.id", ondelete="CASCADE"), primary_key=True)
    language: Mapped[str] = mapped_column(String(8), primary_key=True)
    level: Mapped[int] = mapped_column(Integer, default=3)


# What share of their capacity an agent holds: NULL with no capacity at all, below 1 with room to spare.
LOAD_RATIO = "CAST(open_count AS DOUBLE PRECISION) / NULLIF(capacity, 0)"


class AgentLoad(Base):
    """Routing's roster: per agent, whether they take conversations now, how many they may hold and
    how many they hold. The count changes only by a conditional UPDATE of this row, so two workers can
    never push an agent past capacity; `online` and `capacity` copy presence and the agent's setting,
    kept in the same transactions, so ranking candidates reads one table, not four. The general queue's
    ranking (a conversation with no topic) reads it through `ix_agent_load_best` in the order of the least
    loaded, as a topic's reads `topic_roster`: the first few come off the index instead of a scan and a
    sort of the agency's whole roster. (A claim so changes an indexed value, and PostgreSQL writes the new
    row version's entries in both indexes instead of updating in place: microseconds, where on 5,000 agents
    the scan and the sort cost 2-3 ms a decision.)"""

    __tablename__ = "agent_load"
    __table_args__ = (Index("ix_agent_load_best", "agency_id", "online", "load_ratio"),)

    agent_id: Mapped[int] = mapped_column(ForeignKey("agent.id", ondelete="CASCADE"), primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id", ondelete="CASCADE"))
    open_count: Mapped[int] = mapped_column(Integer, default=0)
    capacity: Mapped[int] = mapped_column(Integer, default=5)
    online: Mapped[bool] = mapped_column(Boolean, default=False)
    last_assigned_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    load_ratio: Mapped[float | None] = mapped_column(Double, Computed(LOAD_RATIO, persisted=True))


class TopicRoster(Base):
    """The roster per topic: one row per agent and topic they are skilled in, with the level and a copy
    of the agent's roster row (`agent_load`), written in the same statements. A topic's ranking reads
    its own rows through `ix_topic_roster_best` in the order of the least loaded: the first few come
    off the index, and everyone eligible is counted from the index alone, instead of a scan and a sort
    of every skilled agent (docs/performance.md). `agent_load` stays the one that decides a claim."""

    __tablename__ = "topic_roster"
    __table_args__ = (Index("ix_topic_roster_best", "topic_id", "agency_id", "online", "load_ratio"),)

    agent_id: Mapped[int] = mapped_column(ForeignKey("agent.id", ondelete="CASCADE"), primary_key=True)
    topic_id: Mapped[int] = mapped_column(ForeignKey("topic.id", ondelete="CASCADE"), primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id", ondelete="CASCADE"))
    level: Mapped[int] = mapped_column(Integer)
    online: Mapped[bool] = mapped_column(Boolean)
    open_count: Mapped[int] = mapped_column(Integer)
    capacity: Mapped[int] = mapped_column(Integer)
    last_assigned_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    load_ratio: Mapped[float | None] = mapped_column(Double, Computed(LOAD_RATIO, persisted=True))


class RoutingDecision(Base):
    """Why a conversation went where it went: who was eligible, who won, and the rule that chose."""

    __tablename__ = "routing_decision"
    __table_args__ = (Index("ix_routing_decision_conversation", "conversation_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id", ondelete="CASCADE"))
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversation.id", ondelete="CASCADE"))
    topic_id: Mapped[int | None] = mapped_column(ForeignKey("topic.id", ondelete="SET NULL"), nullable=True)
    strategy: Mapped[str] = mapped_column(String(16))
    outcome: Mapped[str] = mapped_column(String(16))  # assigned, queued, kept, closed
    reason: Mapped[str] = mapped_column(Text)
    chosen_agent_id: Mapped[int | None] = mapped_column(ForeignKey("agent.id", ondelete="SET NULL"), nullable=True)
    eligible_count: Mapped[int] = mapped_column(Integer, default=0)
    # The best candidates considered, in the order they ranked: [{"agent_id", "load", "capacity", "level"}].
    candidates: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = created_at_column()


class Transfer(Base):
    __tablename__ = "transfer"
    __table_args__ = (
        Index("ix_transfer_conversation", "conversation_id"),
        Index("ix_transfer_from_agency_time", "from_agency_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversation.id", ondelete="CASCADE"))
    from_agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id", ondelete="CASCADE"))
    to_agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id", ondelete="CASCADE"))
    from_topic_id: Mapped[int | None] = mapped_column(ForeignKey("topic.id", ondelete="SET NULL"), nullable=True)
    to_topic_id: Mapped[int | None] = mapped_column(ForeignKey("topic.id", ondelete="SET NULL"), nullable=True)
    from_agent_id: Mapped[int | None] = mapped_column(ForeignKey("agent.id", ondelete="SET NULL"), nullable=True)
    to_agent_id: Mapped[int | None] = mapped_column(ForeignKey("agent.id", ondelete="SET NULL"), nullable=True)
    by_agent_id: Mapped[int | None] = mapped_column(ForeignKey("agent.id", ondelete="SET NULL"), nullable=True)
    note: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at_column()


class TargetKind(enum.StrEnum):
    FIRST_RESPONSE = "first_response"
    NEXT_RESPONSE = "next_response"
    RESOLUTION = "resolution"


class SlaBreach(Base):
    """A response target missed, per conversation and the agent holding it then (null: nobody)."""

    __tablename__ = "sla_breach"
    __table_args__ = (Index("ix_sla_breach_agency_time", "agency_id", "breached_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id", ondelete="CASCADE"))
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversation.id", ondelete="CASCADE"))
    topic_id: Mapped[int | None] = mapped_column(ForeignKey("topic.id", ondelete="SET NULL"), nullable=True)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agent.id", ondelete="SET NULL"), nullable=True)
    target: Mapped[str] = mapped_column(String(16))
    due_at: Mapped[datetime] = mapped_column(UtcDateTime)
    breached_at: Mapped[datetime] = mapped_column(UtcDateTime)


class TransferPartner(Base):
    """`agency_id` accepts conversations transferred from `from_agency_id`."""

    __tablename__ = "transfer_partner"

    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id", ondelete="CASCADE"), primary_key=True)
    from_agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id", ondelete="CASCADE"), primary_key=True)
