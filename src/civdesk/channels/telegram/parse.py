"""Telegram Update → InboundEvents, validated by aiogram's own types."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from aiogram.types import CallbackQuery, ChatMemberUpdated, Message, Update, User
from pydantic import ValidationError

from civdesk.channels.base import InboundEvent, InboundKind, MalformedPayload, ParseResult, Sender

# Statuses of the bot in a private chat: "kicked" is how Telegram says the citizen blocked it.
_BLOCKED = {"kicked"}
_UNBLOCKED = {"member"}
_HANDLED = ("message", "callback_query", "my_chat_member")


def parse_update(body: bytes) -> ParseResult:
    try:
        raw = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedPayload(f"body is not JSON: {exc}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("update_id"), int):
        raise MalformedPayload("an Update must be a JSON object with an integer update_id")
    kinds = sorted(k for k in raw if k != "update_id" and raw[k] is not None)
    handled = [k for k in kinds if k in _HANDLED]
    if not handled:
        # Not validated: a newer Bot API field in a type we skip must not turn into a 400 and a retry loop.
        return ParseResult(ignored_reason=f"update type not handled: {', '.join(kinds) or 'empty'}")
    try:
        update = Update.model_validate(
            _fill_legacy_fields({"update_id": raw["update_id"], handled[0]: raw[handled[0]]})
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise MalformedPayload(f"invalid Update at {where}: {first['msg']}") from None
    return _events_of(update)


def _events_of(update: Update) -> ParseResult:
    if update.message is not None:
        return _from_message(update.message)
    if update.callback_query is not None:
        return _from_callback(update.callback_query)
    if update.my_chat_member is not None:
        return _from_member_change(update.update_id, update.my_chat_member)
    raise AssertionError("only handled update types reach here")


def _sender(user: User | None, chat_id: int) -> Sender:
    if user is None:
        return Sender(external_id=str(chat_id), display_name=str(chat_id))
    name = " ".join(part for part in (user.first_name, user.last_name) if part)
    return Sender(
        external_id=str(chat_id),
        display_name=name or str(chat_id),
        username=user.username,
        language=user.language_code,
    )


def _from_message(message: Message) -> ParseResult:
    if message.chat.type != "private":
        return ParseResult(ignored_reason=f"message in a {message.chat.type} chat")
    attachments = _attachments(message)
    text = message.text or message.caption or ""
    if not text and not attachments:
        return ParseResult(ignored_reason="message with no text or content we keep")
    event = InboundEvent(
        kind=InboundKind.MESSAGE,
        # Message ids are per chat; the pair is what makes a redelivered update recognisable.
        platform_key=f"{message.chat.id}:{message.message_id}",
        sender=_sender(message.from_user, message.chat.id),
        occurred_at=_utc(message.date),
        text=text,
        attachments=tuple(attachments),
    )
    return ParseResult(events=(event,))


def _attachments(message: Message) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if message.photo:
        largest = message.photo[-1]  # Telegram lists sizes smallest first
        found.append(
            {
                "kind": "photo",
                "file_id": largest.file_id,
                "mime_type": "image/jpeg",  # Telegram re-encodes every photo as JPEG
                "size": largest.file_size,
                "width": largest.width,
                "height": largest.height,
            }
        )
    if message.document is not None:
        doc = message.document
        found.append(
            {
                "kind": "document",
                "file_id": doc.file_id,
                "name": doc.file_name,
                "mime_type": doc.mime_type,
                "size": doc.file_size,
            }
        )
    if message.voice is not None:
        found.append(
            {
                "kind": "voice",
                "file_id": message.voice.file_id,
                "mime_type": message.voice.mime_type,
                "size": message.voice.file_size,
                "duration": message.voice.duration,
            }
        )
    for kind, media in (("audio", message.audio), ("video", message.video)):
        if media is not None:
            found.append(
                {
                    "kind": kind,
                    "file_id": media.file_id,
                    "name": media.file_name,
                    "mime_type": media.mime_type,
                    "size": media.file_size,
                    "duration": media.duration,
                }
            )
    if message.venue is not None:
        venue = message.venue
        found.append(
            {
                "kind": "location",
                "latitude": venue.location.latitude,
                "longitude": venue.location.longitude,
                "title": venue.title,
                "address": venue.address,
            }
        )
    elif message.location is not None:
        found.append(
            {"kind": "location", "latitude": message.location.latitude, "longitude": message.location.longitude}
        )
    if message.contact is not None:
        contact = message.contact
        own = message.from_user is not None and contact.user_id == message.from_user.id
        found.append(
            {
                "kind": "contact",
                "phone_number": contact.phone_number,
                "first_name": contact.first_name,
                "last_name": contact.last_name,
                "is_own_number": own,
            }
        )
    return found


def _from_callback(query: CallbackQuery) -> ParseResult:
    chat_id = query.message.chat.id if query.message is not None else query.from_user.id
    event = InboundEvent(
        kind=InboundKind.BUTTON,
        platform_key=f"cb:{query.id}",
        sender=_sender(query.from_user, chat_id),
        occurred_at=datetime.now(UTC),
        text=_pressed_title(query) or query.data or "",
        button_payload=query.data,
        button_query_id=query.id,
    )
    return ParseResult(events=(event,))


def _pressed_title(query: CallbackQuery) -> str | None:
    """The title of the pressed button, read off the keyboard of the message it sits under."""
    message = query.message
    markup = message.reply_markup if isinstance(message, Message) else None
    if markup is None or query.data is None:
        return None
    for row in markup.inline_keyboard:
        for button in row:
            if button.callback_data == query.data:
                return button.text
    return None


def _from_member_change(update_id: int, change: ChatMemberUpdated) -> ParseResult:
    if change.chat.type != "private":
        return ParseResult(ignored_reason=f"membership change in a {change.chat.type} chat")
    status = change.new_chat_member.status
    if status in _BLOCKED:
        kind = InboundKind.BLOCKED
    elif status in _UNBLOCKED:
        kind = InboundKind.UNBLOCKED
    else:
        return ParseResult(ignored_reason=f"bot status {status} in a private chat")
    event = InboundEvent(
        kind=kind,
        platform_key=f"member:{update_id}",
        sender=_sender(change.from_user, change.chat.id),
        occurred_at=_utc(change.date),
    )
    return ParseResult(events=(event,))


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _fill_legacy_fields(raw: dict[str, Any]) -> dict[str, Any]:
    """Telegram's own webhook guide still shows pre-2017 shapes (no is_bot, file_unique_id,
    chat_instance); accept them rather than reject a real platform's documented example."""
    for key in ("message", "edited_message", "callback_query"):
        item = raw.get(key)
        if not isinstance(item, dict):
            continue
        _fill_user(item.get("from"))
        if key == "callback_query":
            item.setdefault("chat_instance", "")
            inner = item.get("message")
            if isinstance(inner, dict):
                _fill_user(inner.get("from"))
                _fill_file_ids(inner)
        else:
            _fill_file_ids(item)
    return raw


def _fill_user(user: object) -> None:
    if isinstance(user, dict):
        user.setdefault("is_bot", False)


def _fill_file_ids(message: dict[str, Any]) -> None:
    for key in ("document", "voice", "audio", "video"):
        media = message.get(key)
        if isinstance(media, dict) and "file_id" in media:
            media.setdefault("file_unique_id", media["file_id"])
            if media.get("thumbnail") == {}:  # some clients serialise "no thumbnail" as {}
                del media["thumbnail"]
    for size in message.get("photo") or []:
        if isinstance(size, dict) and "file_id" in size:
            size.setdefault("file_unique_id", size["file_id"])
