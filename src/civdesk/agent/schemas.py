from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class LoginRequest(BaseModel):
    email: str = Field(min_length=3, max_length=255)
    password: str = Field(min_length=1, max_length=1024)


class TokenRead(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


class AgentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    agency_id: int
    email: str
    name: str
    role: str
    region: str | None
    capacity: int
