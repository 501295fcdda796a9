from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


class ButtonSpec(BaseModel):
    title: str = Field(min_length=1, max_length=20)
    payload: str = Field(min_length=1, max_length=64)


# International form, as every platform's contact card wants it: +, a country code, 7–15 digits in all
# (E.164). Spaces, dashes, dots and brackets people type are dropped first.
_PHONE_SEPARATORS = re.compile(r"[\s\-().]")
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")


def _blank_is_none(value: str | None) -> str | None:
    return value.strip() or None if value is not None else None


class LocationSpec(BaseModel):
    """A point on the map: the nearest service centre, with its name and address."""

    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    title: str | None = Field(default=None, max_length=100, description="e.g. the centre's name")
    address: str | None = Field(default=None, max_length=200)

    _blanks_are_none = field_validator("title", "address")(_blank_is_none)


class ContactSpec(BaseModel):
    """A contact card: a hotline or an office's number."""

    phone_number: str = Field(max_length=32, description="international form, e.g. +380441234567")
    first_name: str = Field(min_length=1, max_length=64)
    last_name: str | None = Field(default=None, max_length=64)

    @field_validator("phone_number")
    @classmethod
    def _international(cls, value: str) -> str:
        phone = _PHONE_SEPARATORS.sub("", value)
        if not _E164.match(phone):
            raise ValueError("phone_number must be in international form: +, country code and number, "
                             "7-15 digits (e.g. +380441234567)")
        return phone

    @field_validator("first_name")
    @classmethod
    def _named(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("first_name must not be blank")
        return value.strip()

    _blanks_are_none = field_validator("last_name")(_blank_is_none)


class MessageRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    conversation_id: int
    direction: str
    author_agent_id: int | None
    text: str
    attachments: list[Any]
    buttons: list[Any]
    template: str | None
    delivery_status: str
    delivery_error: str | None
    created_at: datetime


class MessagePage(BaseModel):
    items: list[MessageRead]
    next_after_id: int | None = Field(description="pass as after_id to read on; null at the end")


class ConversationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    agency_id: int
    channel_id: int
    channel_type: str
    contact_id: int
    contact_name: str
    topic_id: int | None
    assignee_id: int | None
    status: str
    created_at: datetime
    first_response_at: datetime | None
    resolved_at: datetime | None
    last_message_at: datetime
    # The citizen blocked the bot or unsubscribed: replies will fail until they write again.
    citizen_blocked: bool = False
    language: str | None = None
    priority: int = 0
    # Waiting in the queue for an agent since (null: assigned, in triage, or resolved).
    queued_at: datetime | None = None
    triage_pending: bool = False
    transfer_count: int = 0
    repeat_of_id: int | None = None
    complaint_about_agency_id: int | None = None
    # How it ended, chosen when resolving (knowledge.ResolutionCode): its id and its title.
    resolution_code_id: int | None = None
    resolution_code: str | None = None


class ConversationPage(BaseModel):
    items: list[ConversationRead]
    next_before_id: int | None = Field(description="pass as before_id for the next page; null at the end")


class MessageCreate(BaseModel):
    text: str = Field(default="", max_length=4096)
    buttons: list[ButtonSpec] = Field(default_factory=list, max_length=10, description="quick replies")
    template: str | None = Field(
        default=None, max_length=128, description="WhatsApp: an approved template, for outside the 24-hour window"
    )
    location: LocationSpec | None = Field(default=None, description="send a point on the map (not with contact)")
    contact: ContactSpec | None = Field(default=None, description="send a contact card (not with location)")


class ResolveRequest(BaseModel):
    resolution_code_id: int | None = Field(
        default=None, description="how it ended; required when the agency has resolution codes"
    )


class HistoryItem(BaseModel):
    """One of the citizen's conversations, on any channel they are known by."""

    id: int
    channel_type: str
    contact_id: int
    contact_name: str
    status: str
    created_at: datetime
    resolved_at: datetime | None
    last_message_at: datetime
    resolution_code: str | None
    message_count: int


class HistoryPage(BaseModel):
    items: list[HistoryItem]


class NoteCreate(BaseModel):
    text: str = Field(min_length=1, max_length=10000)


class ConversationFilter(BaseModel):
    status: str | None = None
    topic_id: int | None = None
    mine: bool = False
    unassigned: bool = False
    before_id: int | None = None
    limit: int = Field(default=50, ge=1, le=200)


def event_payload(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json")
