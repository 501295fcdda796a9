"""OutboundMessage → the JSON bodies of POST /{phone_number_id}/messages, within WhatsApp's limits.

Buttons: up to 3 with titles of at most 20 characters become interactive reply buttons; otherwise an
interactive list (a 1–5 rating always is one), 10 rows per list; beyond 10 the rows continue in
further list messages ("(2/2)" as their body), since a list holds no more. A file goes first (with
the text as its caption where the kind takes one and it fits), then the text or the buttons. A location
or a contact card comes after the text, which it cannot carry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from civdesk.channels.base import Button, OutboundFile, OutboundMessage, SendFailed

JsonDict = dict[str, Any]
MB = 1024 * 1024
MAX_TEXT = 4096
MAX_REPLY_BUTTONS = 3
REPLY_TITLE = 20
REPLY_ID = 256
LIST_ROWS = 10
ROW_TITLE = 24
ROW_DESCRIPTION = 72
ROW_ID = 200
LIST_BUTTON = 20
INTERACTIVE_BODY = 1024
CAPTION = 1024
# Supported media types and sizes (Cloud API "Supported media types"); anything else goes as a document.
_KINDS = {
    "image/jpeg": ("image", 5 * MB), "image/png": ("image", 5 * MB),
    "video/mp4": ("video", 16 * MB), "video/3gpp": ("video", 16 * MB),
    "audio/aac": ("audio", 16 * MB), "audio/amr": ("audio", 16 * MB), "audio/mpeg": ("audio", 16 * MB),
    "audio/mp4": ("audio", 16 * MB), "audio/ogg": ("audio", 16 * MB),
}
DOCUMENT_MAX = 100 * MB
UPLOAD = "upload"  # a placeholder payload: the adapter uploads the file, then fills in the media id


@dataclass(frozen=True)
class Plan:
    payloads: tuple[JsonDict, ...]
    # Which payload carries the agent's words: its wamid is what receipts are matched against.
    primary: int = 0


def plan(message: OutboundMessage, *, list_label: str) -> Plan:
    if message.template:
        # Outside the 24-hour window only an approved template goes through. Sent as approved,
        # without parameters: the agent's text stays in civdesk's record.
        template = {"name": message.template, "language": {"code": message.template_language}}
        return Plan(payloads=({"type": "template", "template": template},))
    text = message.text
    if len(text) > MAX_TEXT:
        raise SendFailed(f"WhatsApp takes at most {MAX_TEXT} characters in one message", permanent=True,
                         code="too_long")
    if message.location is not None or message.contact is not None:
        return _rich_plan(message, text)
    payloads: list[JsonDict] = []
    primary = 0
    if message.file is not None:
        payload, captioned = file_payload(message.file, caption="" if message.buttons else text)
        payloads.append(payload)
        if captioned:
            text = ""
    if message.buttons:
        primary = len(payloads)
        payloads.extend(interactive_payloads(text, message.buttons, list_label=list_label))
    elif text.strip():
        primary = len(payloads)
        payloads.append({"type": "text", "text": {"body": text, "preview_url": False}})
    if not payloads:
        raise SendFailed("nothing to send: no text, file or template", permanent=True, code="empty")
    return Plan(payloads=tuple(payloads), primary=primary)


def _rich_plan(message: OutboundMessage, text: str) -> Plan:
    """A location (with its name and address) or a contact card; neither takes a caption, so any text goes
    first as its own message. Receipts are matched against the location or card."""
    payloads: list[JsonDict] = []
    if text.strip():
        payloads.append({"type": "text", "text": {"body": text, "preview_url": False}})
    location, contact = message.location, message.contact
    if location is not None:
        fields: JsonDict = {"latitude": location.latitude, "longitude": location.longitude}
        if location.title:
            fields["name"] = location.title
        if location.address:
            fields["address"] = location.address
        payloads.append({"type": "location", "location": fields})
    elif contact is not None:
        name: JsonDict = {"formatted_name": contact.name, "first_name": contact.first_name}
        if contact.last_name:
            name["last_name"] = contact.last_name
        card = {"name": name, "phones": [{"phone": contact.phone_number, "type": "WORK"}]}
        payloads.append({"type": "contacts", "contacts": [card]})
    return Plan(payloads=tuple(payloads), primary=len(payloads) - 1)


def recipient_fields(external_id: str) -> JsonDict:
    """A phone number / wa_id goes in ``to``; a business-scoped user id (``US.…``) in ``recipient``."""
    digits = external_id.removeprefix("+")
    if digits.isdigit():
        return {"to": external_id}
    return {"recipient": external_id}


def file_payload(upload: OutboundFile, *, caption: str) -> tuple[JsonDict, bool]:
    """The media message for a file, and whether the caption went with it."""
    mime = upload.mime_type.split(";")[0].strip().lower()
    kind, limit = _KINDS.get(mime, ("document", DOCUMENT_MAX))
    size = len(upload.data)
    if size > limit:
        kind, limit = "document", DOCUMENT_MAX  # too big to show inline, still fine to download
    if size > DOCUMENT_MAX:
        raise SendFailed(f"WhatsApp takes files of at most {DOCUMENT_MAX // MB} MB", permanent=True,
                         code="too_large")
    fields: JsonDict = {}
    captioned = bool(caption.strip()) and kind != "audio" and len(caption) <= CAPTION
    if captioned:
        fields["caption"] = caption
    if kind == "document":
        fields["filename"] = upload.name
    if upload.public_url:
        return {"type": kind, kind: {"link": upload.public_url, **fields}}, captioned
    return {"type": UPLOAD, "kind": kind, "fields": fields}, captioned


def interactive_payloads(text: str, buttons: tuple[Button, ...], *, list_label: str) -> list[JsonDict]:
    if not text.strip():
        raise SendFailed("WhatsApp buttons need a text to go with", permanent=True, code="empty")
    if len(text) > INTERACTIVE_BODY:
        raise SendFailed(f"a WhatsApp message with buttons takes at most {INTERACTIVE_BODY} characters",
                         permanent=True, code="too_long")
    if len(buttons) <= MAX_REPLY_BUTTONS and all(len(b.title) <= REPLY_TITLE for b in buttons):
        replies = [{"type": "reply", "reply": {"id": _id(b, REPLY_ID), "title": b.title}} for b in buttons]
        return [{"type": "interactive",
                 "interactive": {"type": "button", "body": {"text": text}, "action": {"buttons": replies}}}]
    chunks = [buttons[i:i + LIST_ROWS] for i in range(0, len(buttons), LIST_ROWS)]
    label = list_label[:LIST_BUTTON]
    messages = []
    for n, chunk in enumerate(chunks):
        body = text if n == 0 else f"({n + 1}/{len(chunks)})"
        rows = [_row(b) for b in chunk]
        action = {"button": label, "sections": [{"rows": rows}]}
        messages.append({"type": "interactive",
                         "interactive": {"type": "list", "body": {"text": body}, "action": action}})
    return messages


def _row(button: Button) -> JsonDict:
    row: JsonDict = {"id": _id(button, ROW_ID), "title": button.title}
    if len(button.title) > ROW_TITLE:
        # The row shows the start of a long title; the description (72) carries the rest of it.
        row["title"] = button.title[: ROW_TITLE - 1] + "…"
        row["description"] = button.title[:ROW_DESCRIPTION]
    return row


def _id(button: Button, limit: int) -> str:
    if not button.payload or len(button.payload) > limit:
        raise SendFailed(f"a WhatsApp button id must be 1-{limit} characters", permanent=True, code="invalid")
    if not button.title.strip():
        raise SendFailed("a WhatsApp button needs a title", permanent=True, code="invalid")
    return button.payload
