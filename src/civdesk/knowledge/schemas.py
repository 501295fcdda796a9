from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class CannedAnswerCreate(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=4096, description="inserted into the reply as it is")
    topic_id: int | None = Field(default=None, description="only for this topic; null: every topic")
    legal_reference: str | None = Field(default=None, max_length=500, description="e.g. ст. 20 Закону № 393/96-ВР")
    official_url: str | None = Field(default=None, max_length=500, pattern=r"^https://")


class CannedAnswerUpdate(BaseModel):
    title: str | None = Field(default=None, min_length=1, max_length=200)
    body: str | None = Field(default=None, min_length=1, max_length=4096)
    topic_id: int | None = None
    legal_reference: str | None = Field(default=None, max_length=500)
    official_url: str | None = Field(default=None, max_length=500, pattern=r"^https://")


class CannedAnswerRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    agency_id: int
    topic_id: int | None
    title: str
    body: str
    legal_reference: str | None
    official_url: str | None
    created_at: datetime
    updated_at: datetime


class CannedAnswerPage(BaseModel):
    items: list[CannedAnswerRead]


class ResolutionCodeCreate(BaseModel):
    title: str = Field(min_length=1, max_length=120)
    position: int = Field(default=0, ge=0, le=10_000, description="order in the console's list")


class ResolutionCodeUpdate(BaseModel):
    title: str | None = Field(default=None, min_length=1, max_length=120)
    position: int | None = Field(default=None, ge=0, le=10_000)
    is_active: bool | None = Field(default=None, description="false archives the code: no longer offered")


class ResolutionCodeRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    agency_id: int
    title: str
    position: int
    is_active: bool


class ResolutionCodePage(BaseModel):
    items: list[ResolutionCodeRead]
