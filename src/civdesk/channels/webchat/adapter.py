"""Web chat adapter. Citizens' browsers talk to civdesk directly, so "sending" means the
reply is stored and pushed over the citizen's websocket; there is no third party to call."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import ClassVar

from civdesk.channels.base import (
    ChannelAccount,
    ChannelAdapter,
    InboundEvent,
    InboundKind,
    MalformedPayload,
    OutboundMessage,
    ParseResult,
    PlatformLimits,
    Sender,
    SendResult,
    SignatureInvalid,
)

MAX_TEXT = 4000


class WebChatAdapter(ChannelAdapter):
    type: ClassVar[str] = "webchat"
    limits: ClassVar[PlatformLimits] = PlatformLimits(
        messages_per_second=1000, per_recipient_per_second=50, max_text_length=MAX_TEXT
    )

    def verify(self, *, account: ChannelAccount, headers: Mapping[str, str], body: bytes) -> None:
        # Citizens' messages come only through /chat/{slug}/messages, which checks their signed session
        # token and calls ingest as verified; the generic webhook URL must never accept web chat bodies.
        raise SignatureInvalid("web chat messages are accepted only through the chat page's own endpoint")

    def parse(self, *, body: bytes) -> ParseResult:
        """Body: {"session_id", "client_msg_id", "text", "name"?}, from our own chat page."""
        try:
            raw = json.loads(body)
        except ValueError:
            raise MalformedPayload("body is not JSON") from None
        if not isinstance(raw, dict):
            raise MalformedPayload("body must be a JSON object")
        session_id, client_msg_id, text = raw.get("session_id"), raw.get("client_msg_id"), raw.get("text")
        if not isinstance(session_id, str) or not session_id:
            raise MalformedPayload("session_id is required")
        if not isinstance(client_msg_id, str) or not 8 <= len(client_msg_id) <= 64:
            raise MalformedPayload("client_msg_id must be a string of 8 to 64 characters")
        if not isinstance(text, str) or not text.strip():
            raise MalformedPayload("text must not be empty")
        if len(text) > MAX_TEXT:
            raise MalformedPayload(f"text is longer than {MAX_TEXT} characters")
        name = raw.get("name") if isinstance(raw.get("name"), str) and raw.get("name") else None
        event = InboundEvent(
            kind=InboundKind.MESSAGE,
            # The browser's own id for the message: a resend after a dropped connection is a no-op.
            platform_key=f"{session_id}:{client_msg_id}",
            sender=Sender(external_id=session_id, display_name=name or "Відвідувач веб-чату"),
            occurred_at=datetime.now(UTC),
            text=text.strip(),
        )
        return ParseResult(events=(event,))

    async def send(self, *, account: ChannelAccount, message: OutboundMessage) -> SendResult:
        return SendResult(platform_key=None)
