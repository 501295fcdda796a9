from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class ChatSessionRead(BaseModel):
    session_id: str
    token: str


class CitizenMessageCreate(BaseModel):
    client_msg_id: str = Field(min_length=8, max_length=64, description="the browser's id; resending is harmless")
    text: str = Field(min_length=1, max_length=4000)
    name: str | None = Field(default=None, max_length=120)


class CitizenMessageRead(BaseModel):
    """What the citizen sees: their messages and the agency's replies, never internal notes."""

    id: int
    direction: str
    text: str
    created_at: datetime


class TranscriptRead(BaseModel):
    items: list[CitizenMessageRead]
    next_after_id: int | None = Field(default=None, description="pass as after_id to read on; null at the end")
