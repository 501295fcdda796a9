from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class ChatSessionRead(BaseModel):
    session_id: str
    token: str


class CitizenMessageCreate(BaseModel):
    client_msg_id: str = Field(min_length=8, max_length=64, description="the browser's id; resending is harmless")
    text: str = Field(min_length=1, max_length=4000, description="the message, or the pressed button's title")
    name: str | None = Field(default=None, max_length=120)
    button_payload: str | None = Field(
        default=None, min_length=1, max_length=64, description="a press of one of the agency's buttons: its payload"
    )


class CitizenFileRead(BaseModel):
    kind: str
    name: str
    mime_type: str
    size: int
    url: str = Field(description="where the citizen downloads it; the link is good for this chat session only")


class CitizenButtonRead(BaseModel):
    title: str
    payload: str


class CitizenLocationRead(BaseModel):
    """A point on the map the agency sent (a service centre): the page links it to the map."""

    latitude: float
    longitude: float
    title: str | None = None
    address: str | None = None
    map_url: str = Field(description="the place on OpenStreetMap")


class CitizenContactRead(BaseModel):
    """A contact card the agency sent (a hotline): the page shows the name and a tel: link."""

    name: str
    phone_number: str
    tel_url: str


class CitizenMessageRead(BaseModel):
    """What the citizen sees: their messages and the agency's replies, never internal notes."""

    id: int
    direction: str
    text: str
    created_at: datetime
    attachments: list[CitizenFileRead] = Field(default_factory=list)
    buttons: list[CitizenButtonRead] = Field(default_factory=list, description="quick replies on agency messages")
    location: CitizenLocationRead | None = None
    contact: CitizenContactRead | None = None


class TranscriptRead(BaseModel):
    items: list[CitizenMessageRead]
    next_after_id: int | None = Field(default=None, description="pass as after_id to read on; null at the end")


class CitizenSendResult(BaseModel):
    ok: bool = True
    duplicate: bool = Field(description="this client_msg_id was accepted before; nothing was stored twice")


class ChatStateRead(BaseModel):
    """What the chat page shows beside the transcript."""

    agents_online: bool = Field(description="false: the chat says the question is recorded and answered later")
    conversation_status: str | None = Field(default=None, description="of the citizen's latest conversation")
    rating_due: bool = Field(default=False, description="resolved and not rated yet: ask for 1–5")
    rated: int | None = Field(default=None, description="the score the citizen gave, if any")
    open_now: bool = Field(default=True, description="within the agency's working hours (not a holiday)")
    always_open: bool = Field(default=True, description="no working hours set: answered around the clock")
    hours: str = Field(default="", description="the working hours in one line, in the requested language")
    time_zone: str = Field(default="", description="the agency's time zone, in which `hours` are given")
    opens_at: datetime | None = Field(default=None, description="closed now: when the agency next opens")
    opens_at_text: str | None = Field(default=None, description="`opens_at` in local time: 01.12 08:00")
    queue_position: int | None = Field(default=None, description="waiting for an officer: 1 is served next")
    expected_wait_minutes: int | None = Field(
        default=None, description="open and waiting: about how long; null when nobody who could answer is online"
    )


class CitizenRatingCreate(BaseModel):
    score: int = Field(ge=1, le=5)
    comment: str | None = Field(default=None, max_length=2000)
