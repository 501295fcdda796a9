"""Checks a Send API request as Meta does, with Meta's error codes; pure functions, no state."""

from __future__ import annotations

import json
from typing import Any

from civdesk.sandbox.messenger.state import (
    MAX_QUICK_REPLIES,
    MAX_TEXT,
    MEDIA_TYPES,
    MESSAGING_TYPES,
    TAGS,
    GraphApiError,
    JsonDict,
)


def bad(message: str, subcode: int | None = None) -> GraphApiError:
    return GraphApiError(400, 100, f"(#100) {message}", subcode=subcode, error_type="OAuthException")


def json_param(params: JsonDict, name: str) -> Any:
    """Form posts carry objects as JSON strings; JSON posts carry them as objects."""
    value = params.get(name)
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise bad(f"param {name} must be a JSON object") from None
    return value


def check_envelope(params: JsonDict) -> tuple[str, str, str | None, JsonDict]:
    """Returns (psid, messaging_type, tag, message)."""
    recipient = json_param(params, "recipient")
    if not isinstance(recipient, dict):
        raise bad("The parameter recipient is required")
    psid = recipient.get("id")
    if isinstance(psid, int) and not isinstance(psid, bool):
        psid = str(psid)
    if not isinstance(psid, str) or not psid:
        raise bad("param recipient[id] must be a valid ID string")
    messaging_type = params.get("messaging_type")
    if messaging_type not in MESSAGING_TYPES:
        raise bad("param messaging_type must be one of {RESPONSE, UPDATE, MESSAGE_TAG}")
    tag = params.get("tag")
    if messaging_type == "MESSAGE_TAG" and tag not in TAGS:
        raise bad("param tag must be one of {" + ", ".join(TAGS) + "}")
    message = json_param(params, "message")
    if not isinstance(message, dict):
        raise bad("The parameter message is required")
    return psid, str(messaging_type), tag if isinstance(tag, str) else None, message


def check_message(message: JsonDict, *, has_upload: bool, attachments: dict[str, JsonDict]) -> str:
    """Validates the message object; returns its kind: "text", "media" or "template"."""
    text = message.get("text")
    attachment = message.get("attachment")
    if (text is None) == (attachment is None):
        raise bad("Exactly one of message[text] or message[attachment] must be provided")
    _check_quick_replies(message.get("quick_replies"))
    if text is not None:
        if not isinstance(text, str) or not text.strip():
            raise bad("param message[text] must be a non-empty UTF-8 encoded string")
        if len(text) > MAX_TEXT:
            raise bad(f"Length of param message[text] must be less than or equal to {MAX_TEXT}")
        return "text"
    if not isinstance(attachment, dict) or not isinstance(attachment.get("payload"), dict):
        raise bad("param message[attachment] must have a type and a payload")
    kind, payload = attachment.get("type"), attachment["payload"]
    if kind == "template":
        _check_template(payload)
        return "template"
    if kind not in MEDIA_TYPES:
        raise bad("param message[attachment][type] must be one of {image, video, audio, file, template}")
    sources = [has_upload, isinstance(payload.get("url"), str), isinstance(payload.get("attachment_id"), str)]
    if sum(sources) != 1:
        raise bad("An attachment needs exactly one of payload[url], payload[attachment_id] or filedata")
    if sources[1] and not str(payload["url"]).startswith(("https://", "http://")):
        raise bad("param message[attachment][payload][url] must be a valid URL")
    if sources[2] and payload["attachment_id"] not in attachments:
        raise bad("Attachment id not found", 2018047)
    return "media"


def _check_quick_replies(replies: object) -> None:
    if replies is None:
        return
    if not isinstance(replies, list) or not 1 <= len(replies) <= MAX_QUICK_REPLIES:
        raise bad(f"param message[quick_replies] must have between 1 and {MAX_QUICK_REPLIES} elements")
    for i, reply in enumerate(replies):
        where = f"message[quick_replies][{i}]"
        if not isinstance(reply, dict):
            raise bad(f"param {where} must be an object")
        content_type = reply.get("content_type", "text")
        if content_type in ("user_phone_number", "user_email"):
            continue
        if content_type != "text":
            raise bad(f"param {where}[content_type] must be one of {{text, user_phone_number, user_email}}")
        title, payload = reply.get("title"), reply.get("payload")
        if not isinstance(title, str) or not 1 <= len(title) <= 20:
            raise bad(f"param {where}[title] must be a non-empty string of at most 20 characters")
        if not isinstance(payload, str | int) or not 1 <= len(str(payload)) <= 1000:
            raise bad(f"param {where}[payload] must be a non-empty string of at most 1000 characters")


def _check_template(payload: JsonDict) -> None:
    template_type = payload.get("template_type")
    if template_type == "button":
        if not isinstance(payload.get("text"), str) or not 1 <= len(payload["text"]) <= 640:
            raise bad("param message[attachment][payload][text] must be 1-640 characters")
        _check_buttons(payload.get("buttons"), "message[attachment][payload][buttons]")
        return
    if template_type != "generic":
        raise bad("param message[attachment][payload][template_type] must be one of {generic, button}")
    elements = payload.get("elements")
    if not isinstance(elements, list) or not 1 <= len(elements) <= 10:
        raise bad("param message[attachment][payload][elements] must have between 1 and 10 elements")
    for i, element in enumerate(elements):
        where = f"message[attachment][payload][elements][{i}]"
        if not isinstance(element, dict) or not isinstance(element.get("title"), str) or \
                not 1 <= len(element["title"]) <= 80:
            raise bad(f"param {where}[title] must be 1-80 characters")
        if element.get("buttons") is not None:
            _check_buttons(element["buttons"], f"{where}[buttons]")


def _check_buttons(buttons: object, where: str) -> None:
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
        raise bad(f"param {where} must have between 1 and 3 elements")
    for i, button in enumerate(buttons):
        if not isinstance(button, dict) or button.get("type") not in ("postback", "web_url"):
            raise bad(f"param {where}[{i}][type] must be one of {{postback, web_url}}")
        title = button.get("title")
        if not isinstance(title, str) or not 1 <= len(title) <= 20:
            raise bad(f"param {where}[{i}][title] must be 1-20 characters")
        key = "payload" if button["type"] == "postback" else "url"
        value = button.get(key)
        if not isinstance(value, str) or not 1 <= len(value) <= 1000:
            raise bad(f"param {where}[{i}][{key}] must be 1-1000 characters")
