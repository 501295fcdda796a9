"""Web chat adapter. Citizens' browsers talk to civdesk directly, so "sending" means the
reply is stored and pushed over the citizen's websocket; there is no third party to call."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

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
MAX_BUTTONS = 10
MAX_ATTACHMENTS = 10
MAX_PAYLOAD = 64
# Files come already stored by civdesk (the chat's upload endpoint checked them): only their metadata.
_FILE_KINDS = frozenset({"photo", "document", "voice", "audio", "video"})
_STORED_KEY = re.compile(r"^[0-9a-f]{64}$")


class WebChatAdapter(ChannelAdapter):
    type: ClassVar[str] = "webchat"
    # No platform between us and the citizen: files are bounded by civdesk's own file limit.
    limits: ClassVar[PlatformLimits] = PlatformLimits(
        messages_per_second=1000, per_recipient_per_second=50, max_text_length=MAX_TEXT, max_buttons=MAX_BUTTONS
    )

    def verify(self, *, account: ChannelAccount, headers: Mapping[str, str], body: bytes) -> None:
        # Citizens' messages come only through /chat/{slug}/messages, which checks their signed session
        # token and calls ingest as verified; the generic webhook URL must never accept web chat bodies.
        raise SignatureInvalid("web chat messages are accepted only through the chat page's own endpoint")

    def parse(self, *, body: bytes) -> ParseResult:
        """Body, from our own chat page's endpoints: {"session_id", "client_msg_id", "text", "name"?,
        "attachments"?: [{"kind", "stored_key", "mime_type", "name", "size"}], "button_payload"?}.
        A button press carries the pressed button's title as text and its payload."""
        try:
            raw = json.loads(body)
        except ValueError:
            raise MalformedPayload("body is not JSON") from None
        if not isinstance(raw, dict):
            raise MalformedPayload("body must be a JSON object")
        session_id, client_msg_id, text = raw.get("session_id"), raw.get("client_msg_id"), raw.get("text", "")
        if not isinstance(session_id, str) or not session_id:
            raise MalformedPayload("session_id is required")
        if not isinstance(client_msg_id, str) or not 8 <= len(client_msg_id) <= 64:
            raise MalformedPayload("client_msg_id must be a string of 8 to 64 characters")
        if not isinstance(text, str):
            raise MalformedPayload("text must be a string")
        if len(text) > MAX_TEXT:
            raise MalformedPayload(f"text is longer than {MAX_TEXT} characters")
        attachments = _attachments(raw.get("attachments"))
        payload = raw.get("button_payload")
        if payload is not None and (not isinstance(payload, str) or not 1 <= len(payload) <= MAX_PAYLOAD):
            raise MalformedPayload(f"button_payload must be a string of 1 to {MAX_PAYLOAD} characters")
        if payload is not None and attachments:
            raise MalformedPayload("a button press carries no files")
        if not text.strip() and not attachments:
            raise MalformedPayload("text must not be empty")
        name = raw.get("name") if isinstance(raw.get("name"), str) and raw.get("name") else None
        event = InboundEvent(
            kind=InboundKind.MESSAGE if payload is None else InboundKind.BUTTON,
            # The browser's own id for the message: a resend after a dropped connection is a no-op.
            platform_key=f"{session_id}:{client_msg_id}",
            sender=Sender(external_id=session_id, display_name=name or "Відвідувач веб-чату"),
            occurred_at=datetime.now(UTC),
            text=text.strip(),
            attachments=attachments,
            button_payload=payload,
        )
        return ParseResult(events=(event,))

    async def send(self, *, account: ChannelAccount, message: OutboundMessage) -> SendResult:
        return SendResult(platform_key=None)


def _attachments(value: object) -> tuple[Mapping[str, Any], ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > MAX_ATTACHMENTS:
        raise MalformedPayload(f"attachments must be a list of at most {MAX_ATTACHMENTS} files")
    found: list[Mapping[str, Any]] = []
    for item in value:
        if not isinstance(item, dict):
            raise MalformedPayload("each attachment must be an object")
        kind, key, mime, name, size = (item.get(k) for k in ("kind", "stored_key", "mime_type", "name", "size"))
        if kind not in _FILE_KINDS or not isinstance(key, str) or not _STORED_KEY.match(key):
            raise MalformedPayload("an attachment must be a file civdesk has stored (kind and stored_key)")
        if not isinstance(mime, str) or not isinstance(name, str) or not name:
            raise MalformedPayload("an attachment needs mime_type and name")
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise MalformedPayload("an attachment's size must be a whole number of bytes")
        found.append({"kind": kind, "stored_key": key, "mime_type": mime, "name": name, "size": size})
    return tuple(found)
