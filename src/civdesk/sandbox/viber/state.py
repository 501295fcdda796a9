"""The Viber emulator's state and the payloads it builds: plain data, no locking, no I/O."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

JsonDict = dict[str, Any]

ENDPOINTS = ("set_webhook", "send_message", "get_account_info", "get_user_details")
# Viber's status codes and the status_message it sends with them (6 and 12 as seen in real answers).
STATUS_MESSAGES = {
    0: "ok", 1: "invalidUrl", 2: "invalidAuthToken", 3: "badData", 4: "missingData",
    5: "receiverNotRegistered", 6: "notSubscribed", 7: "publicAccountBlocked", 8: "publicAccountNotFound",
    9: "publicAccountSuspended", 10: "webhookNotSet", 11: "receiverNoSuitableDevice", 12: "Too many requests",
    13: "apiVersionNotSupported", 14: "incompatibleWithVersion", 15: "publicAccountNotAuthorized",
    23: "freeMessagesExceeded", 24: "noBalance",
}
# Receipts can be filtered with set_webhook's event_types; the rest always come [protocol notes 2.2].
FILTERABLE_EVENTS = ("delivered", "seen", "failed", "subscribed", "unsubscribed", "conversation_started")
ALWAYS_SENT = ("message", "subscribed", "unsubscribed", "conversation_started", "webhook")
MAX_CONTACT_NAME = 28
MAX_CONTACT_PHONE = 18
MESSAGE_TYPES = ("text", "picture", "video", "file", "location", "contact", "sticker", "url", "rich_media")
ACTION_TYPES = ("reply", "open-url", "location-picker", "share-phone", "none")
TOKEN_RE = re.compile(r"^[A-Za-z0-9-]{10,100}$")
USER_ID_RE = re.compile(r"^[A-Za-z0-9+/=_-]{4,64}$")
MAX_TEXT = 7000
MAX_SENDER_NAME = 28
MAX_TRACKING_DATA = 4000


class ViberApiError(Exception):
    """A Viber application error: HTTP 200 with {"status": n, "status_message": ...}."""

    def __init__(self, status: int, status_message: str | None = None, *, http_status: int = 200) -> None:
        message = status_message or STATUS_MESSAGES.get(status, "General error")
        super().__init__(message)
        self.status = status
        self.status_message = message
        self.http_status = http_status

    def body(self, chat_hostname: str) -> JsonDict:
        return {"status": self.status, "status_message": self.status_message, "chat_hostname": chat_hostname}


class SandboxError(Exception):
    """Misuse of the sandbox's own API (citizen side, control); ``status`` is the HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class AccountSpec:
    token: str
    name: str
    uri: str


@dataclass
class Failure:
    status: int
    status_message: str | None
    http_status: int
    times: int


@dataclass
class Webhook:
    url: str
    event_types: list[str]
    send_name: bool
    send_photo: bool


@dataclass
class Media:
    data: bytes = field(repr=False)
    mime_type: str
    name: str


@dataclass
class User:
    id: str
    name: str
    language: str = "uk"
    country: str = "UA"
    api_version: int = 10
    subscribed: bool = False
    unanswered: list[float] = field(default_factory=list)  # times of bot messages since the citizen wrote
    tracking_data: str | None = None  # of the bot's last message: echoed back with the citizen's replies
    keyboard: JsonDict | None = None  # the last keyboard sent: the client keeps showing it
    transcript: list[JsonDict] = field(default_factory=list)
    undelivered: list[int] = field(default_factory=list)  # bot message tokens not yet seen

    def profile(self) -> JsonDict:
        return {"id": self.id, "name": self.name, "avatar": f"https://avatar.example.invalid/{len(self.name)}.jpg",
                "language": self.language, "country": self.country, "api_version": self.api_version}


@dataclass
class Queued:
    user_id: str
    body: JsonDict
    seq: int
    first_try: float | None = None


@dataclass
class AccountState:
    spec: AccountSpec
    id: str
    webhook: Webhook | None = None
    users: dict[str, User] = field(default_factory=dict)
    queue: list[Queued] = field(default_factory=list)
    failures: dict[str, list[Failure]] = field(default_factory=dict)
    sends: list[JsonDict] = field(default_factory=list)
    dropped: list[JsonDict] = field(default_factory=list)  # callbacks given up on after the retry window
    last_error: tuple[int, str] | None = None
    duplicate_pushes: int = 0


def fresh_token_base() -> int:
    # Real message tokens are 64-bit and above 2^53 (JavaScript's exact limit): so are these. A restarted
    # sandbox starts from the clock so that a persistent civdesk database does not dedupe new callbacks.
    return 5_400_000_000_000_000_000 + int(time.time() * 1000) * 1000


def now_ms() -> int:
    return int(time.time() * 1000)


def validate_keyboard(board: object) -> JsonDict:
    if not isinstance(board, dict) or board.get("Type", "keyboard") != "keyboard":
        raise ViberApiError(3, "keyboard must be an object of Type keyboard")
    buttons = board.get("Buttons")
    if not isinstance(buttons, list) or not buttons:
        raise ViberApiError(3, "keyboard.Buttons must be a non-empty array")
    for button in buttons:
        if not isinstance(button, dict):
            raise ViberApiError(3, "each keyboard button must be an object")
        columns, rows = button.get("Columns", 6), button.get("Rows", 1)
        if not isinstance(columns, int) or not 1 <= columns <= 6 or not isinstance(rows, int) or not 1 <= rows <= 2:
            raise ViberApiError(3, "a keyboard button's Columns must be 1-6 and Rows 1-2")
        if button.get("ActionType", "reply") not in ACTION_TYPES:
            raise ViberApiError(3, f"unknown ActionType {button.get('ActionType')!r}")
        if not isinstance(button.get("ActionBody"), str) or not button["ActionBody"]:
            raise ViberApiError(4, "a keyboard button needs an ActionBody")
    return board


def validate_message(body: JsonDict, *, welcome: bool) -> None:
    """What send_message (or the welcome answer to conversation_started) must carry."""
    sender = body.get("sender")
    if not isinstance(sender, dict) or not isinstance(sender.get("name"), str) or not sender["name"].strip():
        raise ViberApiError(4, "sender.name is required")
    if len(sender["name"]) > MAX_SENDER_NAME:
        raise ViberApiError(3, f"sender.name is longer than {MAX_SENDER_NAME} characters")
    if not welcome and (not isinstance(body.get("receiver"), str) or not body["receiver"]):
        raise ViberApiError(4, "receiver is required")
    kind = body.get("type")
    if kind not in MESSAGE_TYPES:
        raise ViberApiError(3, f"unknown message type {kind!r}")
    tracking = body.get("tracking_data")
    if tracking is not None and (not isinstance(tracking, str) or len(tracking) > MAX_TRACKING_DATA):
        raise ViberApiError(3, f"tracking_data must be a string of at most {MAX_TRACKING_DATA} characters")
    text = body.get("text")
    if kind == "text" and (not isinstance(text, str) or not text.strip()):
        raise ViberApiError(4, "text is required for a text message")
    if isinstance(text, str) and len(text) > MAX_TEXT:
        raise ViberApiError(3, f"text is longer than {MAX_TEXT} characters")
    if kind in ("picture", "video", "file", "url"):
        media = body.get("media")
        if not isinstance(media, str) or not re.match(r"^https?://\S+$", media):
            raise ViberApiError(3 if media else 4, "media must be a public http(s) URL")
    if kind in ("video", "file") and (not isinstance(body.get("size"), int) or body["size"] < 0):
        raise ViberApiError(4, "size is required for a video or file message")
    if kind == "file" and (not isinstance(body.get("file_name"), str) or not body["file_name"]):
        raise ViberApiError(4, "file_name is required for a file message")
    if kind == "location":
        _validate_location(body.get("location"))
    if kind == "contact":
        _validate_contact(body.get("contact"))
    if "keyboard" in body:
        validate_keyboard(body["keyboard"])


def _validate_location(location: object) -> None:
    """location{lat, lon}: numbers within range."""
    if not isinstance(location, dict) or "lat" not in location or "lon" not in location:
        raise ViberApiError(4, "location{lat, lon} is required for a location message")
    for key, bound in (("lat", 90), ("lon", 180)):
        value = location[key]
        if isinstance(value, bool) or not isinstance(value, int | float) or not -bound <= value <= bound:
            raise ViberApiError(3, f"location.{key} must be a number between -{bound} and {bound}")


def _validate_contact(contact: object) -> None:
    """contact{name (max 28 characters), phone_number (max 18 characters)}."""
    if not isinstance(contact, dict):
        raise ViberApiError(4, "contact{name, phone_number} is required for a contact message")
    for key, limit in (("name", MAX_CONTACT_NAME), ("phone_number", MAX_CONTACT_PHONE)):
        value = contact.get(key)
        if not isinstance(value, str) or not value.strip():
            raise ViberApiError(4, f"contact.{key} is required")
        if len(value) > limit:
            raise ViberApiError(3, f"contact.{key} is longer than {limit} characters")
