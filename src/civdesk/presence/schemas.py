from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

StatusName = Literal["online", "away", "offline"]


class PresenceUpdate(BaseModel):
    status: StatusName


class PresenceRead(BaseModel):
    """An agent of the caller's agency and their presence (offline if they never set one)."""

    agent_id: int
    name: str
    role: str
    region: str | None
    status: StatusName
    changed_at: datetime | None


class PresencePage(BaseModel):
    items: list[PresenceRead]


class PresenceChangeRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    agent_id: int
    status: StatusName
    previous: StatusName
    cause: str = Field(description="agent: set by the agent; console_closed: no console for the grace period")
    created_at: datetime


class PresenceChangePage(BaseModel):
    items: list[PresenceChangeRead]
    next_before_id: int | None = Field(description="pass as before_id for older changes; null at the end")
