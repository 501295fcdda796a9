from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class ChannelRead(BaseModel):
    """What the API may show of a channel: never its secrets."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    agency_id: int
    type: str
    name: str
    config: dict[str, Any]
    is_active: bool
    created_at: datetime
    webhook_path: str
