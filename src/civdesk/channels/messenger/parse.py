"""Messenger Platform webhooks: the signature, the GET handshake, and Page events → InboundEvents.

Wire facts (developers.facebook.com/documentation/business-messaging/messenger-platform/webhooks and
webhook-events/*): the body is ``{"object":"page","entry":[{"id","time","messaging":[event]}]}``; several
entries may be batched in one POST. Each event has ``sender.id`` (the citizen's page-scoped id, PSID),
``recipient.id`` (the Page), ``timestamp`` (ms) and one of message / postback / delivery / read / ….
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from civdesk.channels.base import (
    InboundEvent,
    InboundKind,
    MalformedPayload,
    ParseResult,
    ReceiptStatus,
    Sender,
    SignatureInvalid,
)

# The payload civdesk sets as the Page's Get Started button (register_webhook does it); its postback
# means "the citizen opened the chat". parse() sees no account, so it has to be one fixed value.
GET_STARTED_PAYLOAD = "GET_STARTED"
# The database keeps platform keys in 128 characters; longer ones are hashed (the same way for the
# key of a sent message and for the receipts that name it).
KEY_LIMIT = 128
_CHALLENGE_RE = re.compile(r"^[A-Za-z0-9._~-]{1,256}$")
# Timestamps are milliseconds; Meta's "sample notification" pages show seconds. 1e11 ms is 1973 and
# 1e11 s is the year 5138, so the magnitude tells them apart.
_SECONDS_BELOW = 100_000_000_000
_MEDIA_KINDS = {"image": "photo", "video": "video", "audio": "audio", "file": "document", "sticker": "sticker"}
_ENVELOPE_KEYS = {"sender", "recipient", "timestamp"}


def bounded_key(key: str) -> str:
    if len(key) <= KEY_LIMIT:
        return key
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def verify_signature(*, app_secret: str, headers: Mapping[str, str], body: bytes) -> None:
    """X-Hub-Signature-256 = "sha256=" + hex HMAC-SHA256(app secret, raw body). Meta still sends the legacy
    X-Hub-Signature (sha1) too; it is accepted only when the sha256 header is absent, because a present but
    wrong sha256 signature must not be rescued by the weaker one."""
    if not app_secret:
        raise SignatureInvalid("the channel has no app secret, so no webhook can be trusted")
    key = app_secret.encode()
    strong = headers.get("x-hub-signature-256")
    if strong is not None:
        _check(strong, "sha256=", hmac.new(key, body, hashlib.sha256).hexdigest(), "X-Hub-Signature-256")
        return
    legacy = headers.get("x-hub-signature")
    if legacy is not None:
        _check(legacy, "sha1=", hmac.new(key, body, hashlib.sha1).hexdigest(), "X-Hub-Signature")
        return
    raise SignatureInvalid("X-Hub-Signature-256 is missing")


def _check(given: str, prefix: str, expected: str, header: str) -> None:
    value = given.strip()
    if not value.lower().startswith(prefix):
        raise SignatureInvalid(f"{header} must start with {prefix}")
    if not hmac.compare_digest(value[len(prefix) :].lower().encode(), expected.encode()):
        raise SignatureInvalid(f"{header} does not match the body")


def answer_handshake(*, verify_token: str, params: Mapping[str, str]) -> str:
    """Meta's GET verification: echo hub.challenge when hub.verify_token is ours."""
    if not verify_token:
        raise SignatureInvalid("the channel has no verify token")
    if params.get("hub.mode") != "subscribe":
        raise SignatureInvalid("hub.mode must be subscribe")
    given = params.get("hub.verify_token") or ""
    if not hmac.compare_digest(given.encode(), verify_token.encode()):
        raise SignatureInvalid("hub.verify_token does not match")
    challenge = params.get("hub.challenge") or ""
    # Echoed verbatim into a response body: only the digits and letters Meta sends get through.
    if not _CHALLENGE_RE.match(challenge):
        raise SignatureInvalid("hub.challenge is missing or not a plain token")
    return challenge


def parse_webhook(body: bytes) -> ParseResult:
    try:
        raw = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedPayload(f"body is not JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise MalformedPayload("a webhook body must be a JSON object")
    kind = raw.get("object")
    entries = raw.get("entry")
    if not isinstance(kind, str) or not isinstance(entries, list):
        raise MalformedPayload('a webhook body needs "object" (a string) and "entry" (a list)')
    if kind != "page":
        return ParseResult(ignored_reason=f"object {kind!r} is not a Facebook Page webhook")
    events: list[InboundEvent] = []
    skipped: list[str] = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise MalformedPayload(f"entry[{i}] is not an object")
        items = entry.get("messaging")
        if items is None:
            skipped.append(_entry_without_messaging(entry))
            continue
        if not isinstance(items, list):
            raise MalformedPayload(f"entry[{i}].messaging is not a list")
        for j, item in enumerate(items):
            found, reason = _event(item, f"entry[{i}].messaging[{j}]")
            events.extend(found)
            if reason:
                skipped.append(reason)
    if events:
        return ParseResult(events=tuple(events))
    return ParseResult(ignored_reason="; ".join(dict.fromkeys(skipped)) or "no messaging events in the body")


def _entry_without_messaging(entry: dict[str, Any]) -> str:
    if "standby" in entry:
        return "standby events: another app owns the conversation (handover protocol)"
    if "changes" in entry:
        # The App Dashboard's "Test" button sends {"field","value"} changes, not real messaging events.
        return "entry with changes (a dashboard test or a Page feed field), not messaging events"
    return "entry without messaging events"


def _event(item: object, where: str) -> tuple[list[InboundEvent], str | None]:
    if not isinstance(item, dict):
        raise MalformedPayload(f"{where} is not an object")
    sender_raw = item.get("sender")
    if not isinstance(sender_raw, dict):
        raise MalformedPayload(f"{where}.sender is missing")
    psid = _id(sender_raw.get("id"))
    if psid is None:
        if "user_ref" in sender_raw:
            # Checkbox / chat-plugin visitors have no PSID until they write; civdesk answers by PSID only.
            return [], "sender known only by user_ref (checkbox or chat plugin), no PSID to answer"
        raise MalformedPayload(f"{where}.sender.id is missing")
    sender = Sender(external_id=psid, display_name=psid)
    occurred_at = _time(item.get("timestamp"), f"{where}.timestamp")
    if "message" in item:
        return _message(item["message"], sender, occurred_at, f"{where}.message")
    if "postback" in item:
        return _postback(item["postback"], sender, occurred_at, f"{where}.postback")
    if "delivery" in item:
        return _delivery(item["delivery"], sender, occurred_at, f"{where}.delivery")
    if "read" in item:
        return _read(item["read"], sender, occurred_at, f"{where}.read")
    other = sorted(k for k in item if k not in _ENVELOPE_KEYS)
    return [], f"{', '.join(other) or 'empty'} events are not handled"


def _message(raw: object, sender: Sender, at: datetime, where: str) -> tuple[list[InboundEvent], str | None]:
    if not isinstance(raw, dict):
        raise MalformedPayload(f"{where} is not an object")
    mid = raw.get("mid")
    if not isinstance(mid, str) or not mid:
        raise MalformedPayload(f"{where}.mid is missing")
    if raw.get("is_echo"):
        return [], "echo of a message the Page sent (is_echo)"
    text = raw.get("text") or ""
    if not isinstance(text, str):
        raise MalformedPayload(f"{where}.text is not a string")
    quick = raw.get("quick_reply")
    if quick is not None:
        payload = quick.get("payload") if isinstance(quick, dict) else None
        if not isinstance(payload, str):
            raise MalformedPayload(f"{where}.quick_reply.payload is missing")
        # Messenger puts the tapped button's title in text.
        event = InboundEvent(kind=InboundKind.BUTTON, platform_key=bounded_key(mid), sender=sender, occurred_at=at,
                             text=text, button_payload=payload)
        return [event], None
    attachments, links, dropped = _attachments(raw.get("attachments"), f"{where}.attachments")
    text = "\n".join(part for part in (text, *links) if part)
    if not text and not attachments:
        kinds = ", ".join(dropped) or "none"
        return [], f"message with nothing civdesk keeps (attachment types: {kinds})"
    event = InboundEvent(kind=InboundKind.MESSAGE, platform_key=bounded_key(mid), sender=sender, occurred_at=at,
                         text=text, attachments=tuple(attachments))
    return [event], None


def _attachments(raw: object, where: str) -> tuple[list[dict[str, Any]], list[str], list[str]]:
    """Returns (attachments, shared links as text, types left out)."""
    if raw is None:
        return [], [], []
    if not isinstance(raw, list):
        raise MalformedPayload(f"{where} is not a list")
    found: list[dict[str, Any]] = []
    links: list[str] = []
    dropped: list[str] = []
    for k, item in enumerate(raw):
        if not isinstance(item, dict) or not isinstance(item.get("type"), str):
            raise MalformedPayload(f"{where}[{k}] needs a type")
        kind = item["type"]
        raw_payload = item.get("payload")
        payload: dict[str, Any] = raw_payload if isinstance(raw_payload, dict) else {}
        url = payload.get("url")
        if kind == "location":
            coordinates = payload.get("coordinates")
            if isinstance(coordinates, dict) and _number(coordinates.get("lat")) and _number(coordinates.get("long")):
                found.append({"kind": "location", "latitude": float(coordinates["lat"]),
                              "longitude": float(coordinates["long"]), "title": item.get("title")})
            else:
                dropped.append(kind)
        elif kind == "fallback":
            # A shared link Messenger could not render: keep what the citizen sent, as text.
            link = item.get("url") or url
            links.append(" ".join(str(p) for p in (item.get("title"), link) if p))
        elif kind in _MEDIA_KINDS and isinstance(url, str) and url.startswith(("https://", "http://")):
            found.append(_media(kind, url, payload))
        else:
            dropped.append(kind)
    return found, links, dropped


def _media(kind: str, url: str, payload: dict[str, Any]) -> dict[str, Any]:
    # Until 2026-08-30 stickers also arrive as type "image" carrying a sticker_id (messages.md).
    attachment: dict[str, Any] = {"kind": "sticker" if payload.get("sticker_id") else _MEDIA_KINDS[kind],
                                  "file_id": url}
    if kind == "file":
        # File URLs end in the original name (…/12345_n.pdf/report.pdf?…); the only place it is given.
        name = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
        if "." in name:
            attachment["name"] = name
    return attachment


def _postback(raw: object, sender: Sender, at: datetime, where: str) -> tuple[list[InboundEvent], str | None]:
    if not isinstance(raw, dict):
        raise MalformedPayload(f"{where} is not an object")
    payload = raw.get("payload")
    if not isinstance(payload, str):
        raise MalformedPayload(f"{where}.payload is missing")
    raw_title = raw.get("title")
    title = raw_title if isinstance(raw_title, str) else ""
    mid = raw.get("mid")
    if isinstance(mid, str) and mid:
        key = mid
    else:
        # Older postbacks carry no mid: the citizen, the moment and the payload identify the tap.
        digest = hashlib.sha256(payload.encode()).hexdigest()[:16]
        key = f"postback:{sender.external_id}:{int(at.timestamp() * 1000)}:{digest}"
    if payload == GET_STARTED_PAYLOAD:
        event = InboundEvent(kind=InboundKind.STARTED, platform_key=bounded_key(key), sender=sender, occurred_at=at,
                             text=title)
    else:
        event = InboundEvent(kind=InboundKind.BUTTON, platform_key=bounded_key(key), sender=sender, occurred_at=at,
                             text=title or payload, button_payload=payload)
    return [event], None


def _delivery(raw: object, sender: Sender, at: datetime, where: str) -> tuple[list[InboundEvent], str | None]:
    if not isinstance(raw, dict):
        raise MalformedPayload(f"{where} is not an object")
    watermark = _watermark(raw.get("watermark"), f"{where}.watermark")
    mids = raw.get("mids") or []
    if not isinstance(mids, list) or not all(isinstance(m, str) and m for m in mids):
        raise MalformedPayload(f"{where}.mids must be a list of message ids")
    if mids:
        return [InboundEvent(kind=InboundKind.RECEIPT, platform_key=bounded_key(f"delivery:{mid}"), sender=sender,
                             occurred_at=at, receipt_for=bounded_key(mid), receipt_status=ReceiptStatus.DELIVERED)
                for mid in dict.fromkeys(mids)], None
    # Without mids the watermark says: everything sent before this moment has been delivered.
    key = f"delivery:{sender.external_id}:{watermark}"
    return [InboundEvent(kind=InboundKind.RECEIPT, platform_key=bounded_key(key), sender=sender, occurred_at=at,
                         receipt_status=ReceiptStatus.DELIVERED, receipt_up_to=_from_ms(watermark))], None


def _read(raw: object, sender: Sender, at: datetime, where: str) -> tuple[list[InboundEvent], str | None]:
    if not isinstance(raw, dict):
        raise MalformedPayload(f"{where} is not an object")
    watermark = _watermark(raw.get("watermark"), f"{where}.watermark")
    key = f"read:{sender.external_id}:{watermark}"
    return [InboundEvent(kind=InboundKind.RECEIPT, platform_key=bounded_key(key), sender=sender, occurred_at=at,
                         receipt_status=ReceiptStatus.READ, receipt_up_to=_from_ms(watermark))], None


def _id(value: object) -> str | None:
    # Ids are strings on the wire; old library fixtures use JSON numbers. Never float them.
    if isinstance(value, str) and value:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _integer(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _time(value: object, where: str) -> datetime:
    number = _integer(value)
    if number is None:
        raise MalformedPayload(f"{where} must be an integer")
    return _from_ms(number * 1000 if number < _SECONDS_BELOW else number)


def _watermark(value: object, where: str) -> int:
    number = _integer(value)
    if number is None:
        raise MalformedPayload(f"{where} must be an integer")
    return number


def _from_ms(ms: int) -> datetime:
    try:
        return datetime.fromtimestamp(ms / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise MalformedPayload(f"timestamp {ms} is out of range") from None
