"""Checks a POST /{phone_number_id}/messages body as the Cloud API does, within its documented limits.

Limits: text body 4096; caption 1024; reply buttons 1–3 with id ≤256 and title ≤20; a list's button
text ≤20, up to 10 sections and 10 rows in all, row id ≤200, title ≤24, description ≤72;
interactive body ≤1024.
"""

from __future__ import annotations

from typing import Any

from civdesk.sandbox.whatsapp.state import GraphApiError, JsonDict, invalid_param

MEDIA_TYPES = ("image", "video", "audio", "document", "sticker")
_TYPES = ("text", *MEDIA_TYPES, "interactive", "template", "location", "contacts", "reaction")


def not_valid(details: str) -> GraphApiError:
    return GraphApiError(400, 131009, "(#131009) Parameter value is not valid", details=details,
                         title="Parameter value is not valid")


def missing(details: str) -> GraphApiError:
    return GraphApiError(400, 131008, "(#131008) Required parameter is missing", details=details,
                         title="Required parameter is missing")


def check_send(body: JsonDict) -> JsonDict:
    """The recorded form of a valid send: ``{"to", "type", "text", "payload", ...}``; else a GraphApiError."""
    if body.get("messaging_product") != "whatsapp":
        raise invalid_param("The parameter messaging_product is required and must be 'whatsapp'.")
    if body.get("recipient_type", "individual") != "individual":
        raise invalid_param("Only recipient_type 'individual' is emulated.")
    to = body.get("to")
    if not isinstance(to, str) or not to.removeprefix("+").isdigit():
        raise missing("The parameter to is required: the recipient's phone number or WhatsApp id.")
    kind = body.get("type", "text")
    if kind not in _TYPES:
        raise invalid_param(f"Param type must be one of {', '.join(_TYPES)}.")
    content = body.get(kind)
    record: JsonDict = {"to": to.removeprefix("+"), "type": kind, "payload": body, "text": ""}
    if kind == "contacts":  # the one type whose content is a list
        record.update(_contacts(content))
        return record
    if not isinstance(content, dict):
        raise missing(f"The parameter {kind} is required.")
    if kind == "text":
        text = content.get("body")
        if not isinstance(text, str) or not text.strip():
            raise missing("The parameter text['body'] is required.")
        if len(text) > 4096:
            raise invalid_param("Param text['body'] must be at most 4096 characters long.")
        record["text"] = text
    elif kind in MEDIA_TYPES:
        record.update(_media(kind, content))
    elif kind == "interactive":
        record.update(_interactive(content))
    elif kind == "template":
        record.update(_template(content))
    elif kind == "location":
        record.update(_location(content))
    return record


def _location(content: JsonDict) -> JsonDict:
    """location{latitude, longitude, name?, address?}; the recorded text is what the citizen's page shows."""
    place = []
    for key, bound in (("latitude", 90), ("longitude", 180)):
        value = content.get(key)
        if value is None:
            raise missing(f"The parameter location['{key}'] is required.")
        if isinstance(value, bool) or not isinstance(value, int | float) or not -bound <= value <= bound:
            raise not_valid(f"Param location['{key}'] must be a number between -{bound} and {bound}.")
        place.append(value)
    for key in ("name", "address"):
        if content.get(key) is not None and not isinstance(content[key], str):
            raise invalid_param(f"Param location['{key}'] must be a string.")
    label = ", ".join(part for part in (content.get("name"), content.get("address")) if part)
    return {"text": f"📍 {label} ({place[0]}, {place[1]})" if label else f"📍 {place[0]}, {place[1]}",
            "location": {"latitude": place[0], "longitude": place[1], "name": content.get("name"),
                         "address": content.get("address")}}


def _contacts(content: Any) -> JsonDict:
    """contacts[{name{formatted_name, …}, phones[{phone, type?, wa_id?}], …}]."""
    if not isinstance(content, list) or not content:
        raise missing("The parameter contacts is required and must be a non-empty array.")
    shown = []
    for card in content:
        name = card.get("name") if isinstance(card, dict) else None
        formatted = name.get("formatted_name") if isinstance(name, dict) else None
        if not isinstance(name, dict) or not isinstance(formatted, str) or not formatted.strip():
            raise missing("The parameter contacts[0]['name']['formatted_name'] is required.")
        if not any(isinstance(name.get(k), str) and name[k] for k in ("first_name", "last_name", "middle_name",
                                                                      "suffix", "prefix")):
            raise not_valid("contacts['name'] needs at least one of first_name, last_name, middle_name, "
                            "suffix or prefix besides formatted_name.")
        phones = card.get("phones", [])
        if not isinstance(phones, list) or not all(isinstance(p, dict) and isinstance(p.get("phone"), str)
                                                   and p["phone"] for p in phones):
            raise not_valid("contacts['phones'] must be an array of {phone, type?, wa_id?}.")
        shown.append(" ".join([f"👤 {formatted}", *(p["phone"] for p in phones)]))
    return {"text": "\n".join(shown), "contacts": content}


def _media(kind: str, content: JsonDict) -> JsonDict:
    has_id, has_link = isinstance(content.get("id"), str), isinstance(content.get("link"), str)
    if has_id == has_link:
        raise invalid_param(f"Param {kind} must have exactly one of id or link.")
    caption = content.get("caption")
    if caption is not None:
        if kind in ("audio", "sticker"):
            raise invalid_param(f"Param {kind}['caption'] is not supported for {kind}.")
        if not isinstance(caption, str) or len(caption) > 1024:
            raise invalid_param(f"Param {kind}['caption'] must be at most 1024 characters long.")
    return {"media_id": content.get("id"), "link": content.get("link"), "text": caption or "",
            "filename": content.get("filename")}


def _interactive(content: JsonDict) -> JsonDict:
    kind = content.get("type")
    body = content.get("body")
    text = body.get("text") if isinstance(body, dict) else None
    if not isinstance(text, str) or not text.strip():
        raise missing("The parameter interactive['body']['text'] is required.")
    if len(text) > 1024:
        raise not_valid("Body text must be at most 1024 characters long.")
    action = content.get("action")
    if not isinstance(action, dict):
        raise missing("The parameter interactive['action'] is required.")
    if kind == "button":
        _buttons(action.get("buttons"))
    elif kind == "list":
        _list(action)
    else:
        raise invalid_param("Only interactive types 'button' and 'list' are emulated.")
    return {"text": text, "interactive": kind}


def _buttons(buttons: Any) -> None:
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
        raise not_valid("Buttons count must be between 1 and 3.")
    seen: set[str] = set()
    for button in buttons:
        reply = button.get("reply") if isinstance(button, dict) else None
        if not isinstance(reply, dict) or button.get("type") != "reply":
            raise not_valid("Each button must be {type: reply, reply: {id, title}}.")
        _bounded(reply.get("id"), 256, "Button id")
        _bounded(reply.get("title"), 20, "Button title")
        if reply["id"] in seen:
            raise not_valid("Button ids must be unique.")
        seen.add(reply["id"])


def _list(action: JsonDict) -> None:
    _bounded(action.get("button"), 20, "List button text")
    sections = action.get("sections")
    if not isinstance(sections, list) or not 1 <= len(sections) <= 10:
        raise not_valid("A list must have between 1 and 10 sections.")
    rows = [row for section in sections if isinstance(section, dict) for row in section.get("rows") or []]
    if not 1 <= len(rows) <= 10:
        raise not_valid("A list must have between 1 and 10 rows in all sections together.")
    if len(sections) > 1 and not all(isinstance(s, dict) and s.get("title") for s in sections):
        raise missing("Each section needs a title when a list has more than one section.")
    seen: set[str] = set()
    for row in rows:
        if not isinstance(row, dict):
            raise not_valid("Each row must be {id, title, description?}.")
        _bounded(row.get("id"), 200, "Row id")
        _bounded(row.get("title"), 24, "Row title")
        if row.get("description") is not None:
            _bounded(row.get("description"), 72, "Row description")
        if row["id"] in seen:
            raise not_valid("Row ids must be unique.")
        seen.add(row["id"])


def _template(content: JsonDict) -> JsonDict:
    name = content.get("name")
    language = content.get("language")
    code = language.get("code") if isinstance(language, dict) else None
    if not isinstance(name, str) or not name or not isinstance(code, str) or not code:
        raise missing("The parameters template['name'] and template['language']['code'] are required.")
    return {"text": name, "template": name, "language": code}


def _bounded(value: Any, limit: int, what: str) -> None:
    if not isinstance(value, str) or not 1 <= len(value) <= limit:
        raise not_valid(f"{what} must be 1-{limit} characters.")
