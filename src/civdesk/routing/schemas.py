from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

StrategyName = Literal["balanced", "round_robin", "manual"]
_LANG = r"^[a-z]{2,3}$"


class Targets(BaseModel):
    """Seconds allowed; null means no target (a topic's null falls back to the agency's)."""

    first_response_seconds: int | None = Field(default=None, ge=0)
    next_response_seconds: int | None = Field(default=None, ge=0)
    resolution_seconds: int | None = Field(default=None, ge=0)


class AgencyRoutingRead(Targets):
    slug: str
    name: str
    time_zone: str
    languages: list[str]
    working_hours: dict[str, Any] | None
    holidays: list[HolidayRead]
    triage_enabled: bool
    queue_notices: bool
    default_strategy: str
    reassign_after_seconds: int
    accepts_transfers_from: list[str] = Field(description="slugs of agencies whose transfers this one accepts")


class AgencyRoutingUpdate(BaseModel):
    """Only the fields given change. `working_hours`: {"mon": [["08:00", "17:00"]], …}; null = always open."""

    model_config = ConfigDict(extra="forbid")
    time_zone: str | None = None
    languages: list[str] | None = Field(default=None, min_length=1, max_length=10)
    working_hours: dict[str, Any] | None = None
    triage_enabled: bool | None = None
    queue_notices: bool | None = None
    default_strategy: StrategyName | None = None
    reassign_after_seconds: int | None = Field(default=None, ge=10)
    first_response_seconds: int | None = Field(default=None, ge=0)
    next_response_seconds: int | None = Field(default=None, ge=0)
    resolution_seconds: int | None = Field(default=None, ge=0)
    accepts_transfers_from: list[str] | None = None


class PartnerAgencyRead(BaseModel):
    """Another agency on this platform, which this one may accept transfers from."""

    slug: str
    name: str


class HolidayRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    day: date
    name: str


class HolidayCreate(HolidayRead):
    name: str = Field(default="", max_length=255)


class TopicRead(Targets):
    model_config = ConfigDict(from_attributes=True)
    id: int
    slug: str
    name: str
    names: dict[str, str]
    keywords: list[str]
    strategy: str | None
    priority: int
    reassign_after_seconds: int | None


class TopicWrite(Targets):
    """A topic (queue). On update only the fields given change."""

    model_config = ConfigDict(extra="forbid")
    slug: str | None = Field(default=None, max_length=64)
    name: str | None = Field(default=None, min_length=1, max_length=255)
    names: dict[str, str] | None = None
    keywords: list[str] | None = Field(default=None, max_length=100)
    strategy: StrategyName | None = None
    priority: int | None = Field(default=None, ge=0, le=100)
    reassign_after_seconds: int | None = Field(default=None, ge=10)


class SkillLevel(BaseModel):
    topic_id: int
    level: int = Field(default=3, ge=1, le=5)


class LanguageLevel(BaseModel):
    language: str = Field(pattern=_LANG)
    level: int = Field(default=3, ge=1, le=5)


class SkillsRead(BaseModel):
    agent_id: int
    capacity: int
    topics: list[SkillLevel]
    languages: list[LanguageLevel]


class SkillsWrite(BaseModel):
    """Replaces the agent's skills; `capacity` is how many open conversations they hold at once."""

    model_config = ConfigDict(extra="forbid")
    capacity: int | None = Field(default=None, ge=0, le=100)
    topics: list[SkillLevel] | None = None
    languages: list[LanguageLevel] | None = None


class TransferCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str = Field(max_length=2000, description="why; the citizen is told it and the receiving side reads it")
    to_agent_id: int | None = None
    to_topic_id: int | None = Field(default=None, description="alone: a topic here; with to_agency: a topic there")
    to_agency: str | None = Field(default=None, description="the receiving agency's slug")


class ComplaintUpdate(BaseModel):
    about_agency: str | None = Field(description="the slug of the agency complained about; null to unmark")


class DecisionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    topic_id: int | None
    strategy: str
    outcome: str
    reason: str
    chosen_agent_id: int | None
    eligible_count: int
    candidates: list[Any]
    created_at: datetime


class TransferRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    from_agency_id: int
    to_agency_id: int
    from_topic_id: int | None
    to_topic_id: int | None
    from_agent_id: int | None
    to_agent_id: int | None
    by_agent_id: int | None
    note: str
    created_at: datetime


class BreachRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    conversation_id: int
    topic_id: int | None
    agent_id: int | None
    target: str
    due_at: datetime
    breached_at: datetime


class RoutingHistory(BaseModel):
    decisions: list[DecisionRead]
    transfers: list[TransferRead]
    breaches: list[BreachRead]


class QueueRead(BaseModel):
    topic_id: int | None
    waiting: int
    longest_wait_seconds: float | None


class TransferTargetItem(BaseModel):
    id: int
    name: str
    status: str | None = Field(default=None, description="an agent's presence: online, away or offline")


class TransferTargetAgency(BaseModel):
    slug: str
    name: str


class TransferTargets(BaseModel):
    """Where the caller may transfer a conversation: an agent or a topic of their agency, or an agency
    that accepts transfers from theirs."""

    agents: list[TransferTargetItem]
    topics: list[TransferTargetItem]
    agencies: list[TransferTargetAgency]


class RosterRead(BaseModel):
    """An agent on the supervisor's wall: where they work, whether they take conversations, their load."""

    agent_id: int
    name: str
    role: str
    region: str | None
    status: str
    open_count: int
    capacity: int


class AtRiskRead(BaseModel):
    conversation_id: int
    contact_name: str | None
    topic_id: int | None
    assignee_id: int | None
    target: str = Field(description="first_response, next_response or resolution")
    due_at: datetime
    seconds_left: int = Field(description="negative once missed")
    breached: bool


class BounceRow(BaseModel):
    key: int | None
    label: str
    resolved: int
    transfers: int
    repeats: int
    bounce_index: float | None = Field(description="(transfers + repeats) per resolved case; null with none resolved")


class BouncePage(BaseModel):
    by: str
    since: datetime
    until: datetime
    items: list[BounceRow]


AgencyRoutingRead.model_rebuild()
