"""WhatsApp Cloud API webhook bodies → InboundEvents.

One body may batch several entries, each with several changes, each with several messages or
statuses; every item becomes its own event. What we deliberately do not turn into events (each
tested, each named in the ignored reason so the log says why):

* ``reaction``: an emoji on one of our messages is not a request to answer, and must not reopen a
  closed conversation;
* ``unsupported`` (a type the Cloud API does not deliver: polls, view-once media…), ``system``
  (identity or number changes), ``edit`` and ``revoke``: nothing an agent can act on; Meta's reason
  is kept in the ignored reason;
* value-level ``errors`` (Meta could not build the message) and change fields other than
  ``messages`` and ``user_preferences``.

A ``referral`` (the chat was opened from a click-to-WhatsApp ad) is an ordinary MESSAGE: the ad
itself is of no use to an agent. Template quick-reply presses (``button``) and interactive
``button_reply``/``list_reply`` are BUTTON events with the id we sent as payload.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
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

JsonDict = dict[str, Any]
_MEDIA_KINDS = {"image": "photo", "video": "video", "audio": "audio", "document": "document", "sticker": "sticker"}
_STATUSES = {
    "sent": ReceiptStatus.SENT,
    "delivered": ReceiptStatus.DELIVERED,
    "read": ReceiptStatus.READ,
    "failed": ReceiptStatus.FAILED,
}
# Marketing opt-out is the only "unsubscribe" WhatsApp reports; signing up again undoes it.
_PREFERENCES = {"stop": InboundKind.BLOCKED, "resume": InboundKind.UNBLOCKED, "signup": InboundKind.UNBLOCKED}
# What the agent should do, for the errors where Meta's own title does not say it.
_HINTS = {
    131047: "More than 24 hours have passed since the citizen last wrote: send an approved template instead.",
    131026: "The number cannot receive this message (not on WhatsApp, an old app, or terms not accepted).",
    131050: "The citizen has stopped marketing messages from this number.",
}


def parse_webhook(body: bytes) -> ParseResult:
    try:
        raw = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedPayload(f"body is not JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise MalformedPayload("a webhook body must be a JSON object")
    if raw.get("object") != "whatsapp_business_account":
        raise MalformedPayload(f"object must be 'whatsapp_business_account', not {raw.get('object')!r}")
    events: list[InboundEvent] = []
    skipped: list[str] = []
    entries = _list(raw, "entry", "body")
    for i, item in enumerate(entries):
        entry = _dict(item, f"entry[{i}]")
        for j, change_item in enumerate(_list(entry, "changes", f"entry[{i}]")):
            where = f"entry[{i}].changes[{j}]"
            change = _dict(change_item, where)
            field = change.get("field")
            if not isinstance(field, str):
                raise MalformedPayload(f"{where}.field must be a string")
            value = _dict(change.get("value"), f"{where}.value")
            if field == "messages":
                _messages_change(value, where, events, skipped)
            elif field == "user_preferences":
                _preferences_change(value, where, events, skipped)
            else:
                skipped.append(f"{where}: field {field!r} is not handled")
    if not entries:
        skipped.append("no entries")
    return ParseResult(events=tuple(events), ignored_reason="; ".join(skipped) or None)


def _messages_change(value: JsonDict, where: str, events: list[InboundEvent], skipped: list[str]) -> None:
    names = _names(value, where)
    for n, error in enumerate(_list(value, "errors", where, required=False)):
        skipped.append(f"{where}.value.errors[{n}]: Meta reported {_describe(_dict(error, where))}")
    messages = _list(value, "messages", where, required=False)
    statuses = _list(value, "statuses", where, required=False)
    for n, message in enumerate(messages):
        outcome = _message(_dict(message, f"{where}.value.messages[{n}]"), f"{where}.value.messages[{n}]", names)
        if isinstance(outcome, str):
            skipped.append(f"{where}.value.messages[{n}]: {outcome}")
        else:
            events.append(outcome)
    for n, status in enumerate(statuses):
        outcome = _status(_dict(status, f"{where}.value.statuses[{n}]"), f"{where}.value.statuses[{n}]", names)
        if isinstance(outcome, str):
            skipped.append(f"{where}.value.statuses[{n}]: {outcome}")
        else:
            events.append(outcome)
    if not messages and not statuses and "errors" not in value:
        skipped.append(f"{where}: a messages change with neither messages nor statuses")


def _names(value: JsonDict, where: str) -> dict[str, str]:
    """Profile names by wa_id (and by the newer business-scoped user_id), from value.contacts."""
    names: dict[str, str] = {}
    for n, item in enumerate(_list(value, "contacts", where, required=False)):
        contact = _dict(item, f"{where}.value.contacts[{n}]")
        profile = contact.get("profile")
        name = profile.get("name") if isinstance(profile, dict) else None
        if not isinstance(name, str) or not name:
            continue
        for key in ("wa_id", "user_id"):
            if isinstance(contact.get(key), str):
                names[contact[key]] = name
    return names


def _message(msg: JsonDict, where: str, names: Mapping[str, str]) -> InboundEvent | str:
    """The event for one message, or the reason it is skipped."""
    wamid = _str(msg, "id", where)
    sender_id = msg.get("from") if isinstance(msg.get("from"), str) else msg.get("from_user_id")
    if not isinstance(sender_id, str) or not sender_id:
        raise MalformedPayload(f"{where} has no sender (from)")
    occurred = _timestamp(msg, where)
    kind = _str(msg, "type", where)
    sender = Sender(external_id=sender_id, display_name=names.get(sender_id) or sender_id)

    def event(**fields: Any) -> InboundEvent:
        return InboundEvent(platform_key=wamid, sender=sender, occurred_at=occurred, **fields)

    handler = _MESSAGE_HANDLERS.get(kind)
    if handler is None:
        return f"message type {kind!r} is not handled"
    return handler(msg, where, sender_id, event)


_Make = Callable[..., InboundEvent]


def _text(msg: JsonDict, where: str, sender_id: str, event: _Make) -> InboundEvent | str:
    body = _str(_dict(msg.get("text"), f"{where}.text"), "body", f"{where}.text")
    return event(kind=InboundKind.MESSAGE, text=body)


def _media(msg: JsonDict, where: str, sender_id: str, event: _Make) -> InboundEvent | str:
    kind = msg["type"]
    media = _dict(msg.get(kind), f"{where}.{kind}")
    attachment: JsonDict = {"kind": _MEDIA_KINDS[kind], "file_id": _str(media, "id", f"{where}.{kind}")}
    if kind == "audio" and media.get("voice") is True:
        attachment["kind"] = "voice"
    for key, ours in (("mime_type", "mime_type"), ("filename", "name")):
        if isinstance(media.get(key), str):
            attachment[ours] = media[key]
    caption = media.get("caption")
    return event(kind=InboundKind.MESSAGE, text=caption if isinstance(caption, str) else "",
                 attachments=(attachment,))


def _location(msg: JsonDict, where: str, sender_id: str, event: _Make) -> InboundEvent | str:
    place = _dict(msg.get("location"), f"{where}.location")
    attachment: JsonDict = {"kind": "location"}
    for key in ("latitude", "longitude"):
        number = place.get(key)
        if isinstance(number, bool) or not isinstance(number, int | float):
            raise MalformedPayload(f"{where}.location.{key} must be a number")
        attachment[key] = float(number)
    for key, ours in (("name", "title"), ("address", "address")):
        if isinstance(place.get(key), str):
            attachment[ours] = place[key]
    return event(kind=InboundKind.MESSAGE, attachments=(attachment,))


def _contacts(msg: JsonDict, where: str, sender_id: str, event: _Make) -> InboundEvent | str:
    cards = _list(msg, "contacts", where)
    attachments: list[JsonDict] = []
    for n, item in enumerate(cards):
        card = _dict(item, f"{where}.contacts[{n}]")
        raw_name = card.get("name")
        name: JsonDict = raw_name if isinstance(raw_name, dict) else {}
        phones = [p for p in card.get("phones") or [] if isinstance(p, dict)]
        first = name.get("first_name") or name.get("formatted_name")
        attachments.append({
            "kind": "contact",
            "phone_number": phones[0].get("phone") if phones else None,
            "first_name": first if isinstance(first, str) else None,
            "last_name": name.get("last_name") if isinstance(name.get("last_name"), str) else None,
            # A phone whose wa_id is the sender's own: the citizen shared their own card.
            "is_own_number": any(p.get("wa_id") == sender_id for p in phones),
        })
    if not attachments:
        return "a contacts message with no contacts"
    return event(kind=InboundKind.MESSAGE, attachments=tuple(attachments))


def _interactive(msg: JsonDict, where: str, sender_id: str, event: _Make) -> InboundEvent | str:
    inner = msg.get("interactive")
    if not isinstance(inner, dict):
        return "an interactive message without content (Meta could not deliver it)"
    kind = inner.get("type")
    if kind not in ("button_reply", "list_reply"):
        return f"interactive reply of type {kind!r} is not handled"
    reply = _dict(inner.get(kind), f"{where}.interactive.{kind}")
    title = reply.get("title")
    return event(kind=InboundKind.BUTTON, button_payload=_str(reply, "id", f"{where}.interactive.{kind}"),
                 text=title if isinstance(title, str) else "")


def _template_button(msg: JsonDict, where: str, sender_id: str, event: _Make) -> InboundEvent | str:
    button = _dict(msg.get("button"), f"{where}.button")
    text = button.get("text")
    return event(kind=InboundKind.BUTTON, button_payload=_str(button, "payload", f"{where}.button"),
                 text=text if isinstance(text, str) else "")


def _skip(why: str) -> Callable[[JsonDict, str, str, _Make], InboundEvent | str]:
    def skip(msg: JsonDict, where: str, sender_id: str, event: _Make) -> InboundEvent | str:
        errors = [_describe(e) for e in msg.get("errors") or [] if isinstance(e, dict)]
        system = msg.get("system")
        detail = system.get("body") if isinstance(system, dict) else None
        extra = "; ".join(str(x) for x in (*errors, detail) if x)
        return f"{why}{f' ({extra})' if extra else ''}"

    return skip


_MESSAGE_HANDLERS: dict[str, Callable[[JsonDict, str, str, _Make], InboundEvent | str]] = {
    "text": _text,
    **dict.fromkeys(_MEDIA_KINDS, _media),
    "location": _location,
    "contacts": _contacts,
    "interactive": _interactive,
    "button": _template_button,
    "reaction": _skip("a reaction is not kept"),
    "unsupported": _skip("a message type the Cloud API does not deliver"),
    "system": _skip("a system message is not kept"),
    "edit": _skip("an edit of an earlier message is not applied"),
    "revoke": _skip("a deletion of an earlier message is not applied"),
}


def _status(status: JsonDict, where: str, names: Mapping[str, str]) -> InboundEvent | str:
    wamid = _str(status, "id", where)
    name = _str(status, "status", where)
    occurred = _timestamp(status, where)
    receipt = _STATUSES.get(name)
    if receipt is None:
        return f"status {name!r} is not tracked"
    recipient = status.get("recipient_id") or status.get("recipient_user_id")
    if not isinstance(recipient, str) or not recipient:
        raise MalformedPayload(f"{where} has no recipient_id")
    error = None
    if receipt is ReceiptStatus.FAILED:
        errors = [e for e in status.get("errors") or [] if isinstance(e, dict)]
        error = " | ".join(_describe(e) for e in errors) or "WhatsApp reported the message as failed"
    return InboundEvent(
        kind=InboundKind.RECEIPT,
        # One wamid goes through sent → delivered → read: each step is its own event.
        platform_key=f"status:{wamid}:{name}",
        sender=Sender(external_id=recipient, display_name=names.get(recipient) or recipient),
        occurred_at=occurred,
        receipt_for=wamid,
        receipt_status=receipt,
        error=error,
    )


def _preferences_change(value: JsonDict, where: str, events: list[InboundEvent], skipped: list[str]) -> None:
    names = _names(value, where)
    for n, item in enumerate(_list(value, "user_preferences", where)):
        here = f"{where}.value.user_preferences[{n}]"
        pref = _dict(item, here)
        wa_id = _str(pref, "wa_id", here)
        choice = _str(pref, "value", here)
        kind = _PREFERENCES.get(choice)
        if pref.get("category") != "marketing_messages" or kind is None:
            skipped.append(f"{here}: preference {pref.get('category')!r}={choice!r} is not handled")
            continue
        occurred = _timestamp(pref, here)
        events.append(InboundEvent(
            kind=kind,
            platform_key=f"pref:{wa_id}:{choice}:{int(occurred.timestamp())}",
            sender=Sender(external_id=wa_id, display_name=names.get(wa_id) or wa_id),
            occurred_at=occurred,
        ))


def _describe(error: Mapping[str, Any]) -> str:
    """``131047 Re-engagement message: <details> <hint>``: Meta's words plus what to do about them."""
    code = error.get("code")
    title = error.get("title") or error.get("message") or "error"
    data = error.get("error_data")
    details = data.get("details") if isinstance(data, dict) else None
    text = f"{code} {title}" + (f": {details}" if details and details != title else "")
    hint = _HINTS.get(code) if isinstance(code, int) else None
    return f"{text} {hint}" if hint else text


def _timestamp(obj: JsonDict, where: str) -> datetime:
    value = obj.get("timestamp")
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise MalformedPayload(f"{where}.timestamp must be Unix seconds")
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        raise MalformedPayload(f"{where}.timestamp is out of range") from None


def _dict(value: object, where: str) -> JsonDict:
    if not isinstance(value, dict):
        raise MalformedPayload(f"{where} must be an object")
    return value


def _list(obj: JsonDict, key: str, where: str, *, required: bool = True) -> list[Any]:
    value = obj.get(key)
    if value is None and not required:
        return []
    if not isinstance(value, list):
        raise MalformedPayload(f"{where}.{key} must be a list")
    return value


def _str(obj: JsonDict, key: str, where: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        raise MalformedPayload(f"{where}.{key} must be a non-empty string")
    return value
