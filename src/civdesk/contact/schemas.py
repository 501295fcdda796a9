from __future__ import annotations

from pydantic import BaseModel, Field


class ContactLinkCreate(BaseModel):
    contact_id: int = Field(description="the other contact of the same citizen (another channel)")


class ContactLinkRead(BaseModel):
    contact_ids: list[int] = Field(description="every contact now known to be this citizen")
