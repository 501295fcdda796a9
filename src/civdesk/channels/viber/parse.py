"""Viber callback → InboundEvents.

One callback is one event: {"event": ..., "timestamp": ms, "message_token": 64-bit int, ...}.
The dedupe key is "<event>:<message_token>": receipts (delivered/seen/failed) share the token of the
message they report on, so the token alone would not be unique. Tokens exceed 2^53: kept as strings.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from civdesk.channels.base import (
    InboundEvent,
    InboundKind,
    MalformedPayload,
    ParseResult,
    ReceiptStatus,
    Sender,
)
from civdesk.channels.viber import keyboard

_RECEIPTS = {"delivered": ReceiptStatus.DELIVERED, "seen": ReceiptStatus.READ, "failed": ReceiptStatus.FAILED}
# Media messages whose `media` URL is the file: fetch_file downloads it.
_MEDIA_KINDS = {"picture": "photo", "video": "video", "file": "document"}


def parse_callback(body: bytes) -> ParseResult:
    try:
        raw = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedPayload(f"body is not JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise MalformedPayload("a Viber callback must be a JSON object")
    event = raw.get("event")
    if not isinstance(event, str) or not event:
        raise MalformedPayload("a Viber callback needs a string `event`")
    if event == "webhook":
        # Viber's availability probe after set_webhook: it only needs the 200.
        return ParseResult(ignored_reason="webhook probe after set_webhook")
    handler = _HANDLERS.get(event)
    if handler is None:
        return ParseResult(ignored_reason=f"event not handled: {event}")
    token = _token(raw)
    return handler(raw, event, token, _when(raw))


def _token(raw: dict[str, Any]) -> str:
    token = raw.get("message_token")
    if isinstance(token, bool) or not isinstance(token, int | str) or not str(token).isdigit():
        raise MalformedPayload("message_token must be an integer")
    return str(token)


def _when(raw: dict[str, Any]) -> datetime:
    stamp = raw.get("timestamp")
    if stamp is None:
        return datetime.now(UTC)
    if isinstance(stamp, bool) or not isinstance(stamp, int) or stamp < 0:
        raise MalformedPayload("timestamp must be milliseconds since the epoch")
    try:
        return datetime.fromtimestamp(stamp / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise MalformedPayload("timestamp is out of range") from None


def _obj(raw: dict[str, Any], key: str) -> dict[str, Any]:
    value = raw.get(key)
    if not isinstance(value, dict):
        raise MalformedPayload(f"`{key}` must be an object")
    return value


def _user(user: dict[str, Any], where: str) -> Sender:
    user_id = user.get("id")
    if not isinstance(user_id, str) or not user_id:
        raise MalformedPayload(f"`{where}.id` must be a non-empty string")
    name = user.get("name")
    language = user.get("language")
    return Sender(external_id=user_id, display_name=name if isinstance(name, str) and name.strip() else user_id,
                  language=language if isinstance(language, str) and language else None)


def _user_id(raw: dict[str, Any]) -> Sender:
    user_id = raw.get("user_id")
    if not isinstance(user_id, str) or not user_id:
        raise MalformedPayload("`user_id` must be a non-empty string")
    return Sender(external_id=user_id, display_name=user_id)


def _started(raw: dict[str, Any], event: str, token: str, when: datetime) -> ParseResult:
    context = raw.get("context")
    return ParseResult(events=(InboundEvent(
        kind=InboundKind.STARTED, platform_key=f"{event}:{token}", sender=_user(_obj(raw, "user"), "user"),
        occurred_at=when,
        # The deep link's context (viber://pa?chatURI=…&context=…), e.g. which service the citizen came from.
        text=context if isinstance(context, str) else "",
    ),))


def _subscription(raw: dict[str, Any], event: str, token: str, when: datetime) -> ParseResult:
    if event == "subscribed":
        kind, sender = InboundKind.UNBLOCKED, _user(_obj(raw, "user"), "user")
    else:
        kind, sender = InboundKind.BLOCKED, _user_id(raw)
    return ParseResult(events=(InboundEvent(kind=kind, platform_key=f"{event}:{token}", sender=sender,
                                            occurred_at=when),))


def _receipt(raw: dict[str, Any], event: str, token: str, when: datetime) -> ParseResult:
    desc = raw.get("desc")
    return ParseResult(events=(InboundEvent(
        kind=InboundKind.RECEIPT, platform_key=f"{event}:{token}", sender=_user_id(raw), occurred_at=when,
        receipt_for=token, receipt_status=_RECEIPTS[event],
        error=(desc if isinstance(desc, str) and desc else "delivery failed") if event == "failed" else None,
    ),))


def _message(raw: dict[str, Any], event: str, token: str, when: datetime) -> ParseResult:
    sender = _user(_obj(raw, "sender"), "sender")
    message = _obj(raw, "message")
    kind = message.get("type")
    if not isinstance(kind, str) or not kind:
        raise MalformedPayload("`message.type` must be a string")
    text = _str(message, "text")
    key = f"{event}:{token}"
    if kind == "text":
        if not text.strip():
            return ParseResult(ignored_reason="text message with no text")
        payload = keyboard.payload_for(text, message.get("tracking_data"))
        if payload is not None:
            return ParseResult(events=(InboundEvent(kind=InboundKind.BUTTON, platform_key=key, sender=sender,
                                                    occurred_at=when, text=text, button_payload=payload),))
        return _single(key, sender, when, text, ())
    if kind == "url":
        return _single(key, sender, when, _str(message, "media") or text, ())
    attachment = _attachment(kind, message)
    if attachment is None:
        return ParseResult(ignored_reason=f"message type not handled: {kind}")
    return _single(key, sender, when, text, (attachment,))


def _single(key: str, sender: Sender, when: datetime, text: str,
            attachments: tuple[dict[str, Any], ...]) -> ParseResult:
    if not text.strip() and not attachments:
        return ParseResult(ignored_reason="message with no text or content we keep")
    return ParseResult(events=(InboundEvent(kind=InboundKind.MESSAGE, platform_key=key, sender=sender,
                                            occurred_at=when, text=text, attachments=attachments),))


def _attachment(kind: str, message: dict[str, Any]) -> dict[str, Any] | None:
    if kind in _MEDIA_KINDS:
        media = _str(message, "media")
        if not media:
            raise MalformedPayload(f"a {kind} message needs `message.media`")
        found: dict[str, Any] = {"kind": _MEDIA_KINDS[kind], "file_id": media}
        for source, target in (("file_name", "name"), ("size", "size"), ("duration", "duration")):
            if message.get(source) is not None:
                found[target] = message[source]
        return found
    if kind == "sticker":
        sticker: dict[str, Any] = {"kind": "sticker"}
        if _str(message, "media"):
            sticker["file_id"] = message["media"]
        return sticker
    if kind == "location":
        location = _obj(message, "location")
        lat, lon = location.get("lat"), location.get("lon")
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (lat, lon)):
            raise MalformedPayload("`message.location` needs numeric lat and lon")
        found = {"kind": "location", "latitude": float(lat), "longitude": float(lon)}  # type: ignore[arg-type]
        if isinstance(location.get("address"), str):
            found["address"] = location["address"]
        return found
    if kind == "contact":
        contact = _obj(message, "contact")
        return {"kind": "contact", "phone_number": _str(contact, "phone_number"),
                "first_name": _str(contact, "name")}
    return None


def _str(source: dict[str, Any], key: str) -> str:
    value = source.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise MalformedPayload(f"`{key}` must be a string")
    return value


_HANDLERS = {
    "conversation_started": _started,
    "subscribed": _subscription,
    "unsubscribed": _subscription,
    "delivered": _receipt,
    "seen": _receipt,
    "failed": _receipt,
    "message": _message,
}
