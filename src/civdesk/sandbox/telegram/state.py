"""The emulator's state and the shapes it builds: plain data, no locking, no I/O."""

from __future__ import annotations

import hashlib
import html
import re
import time
from dataclasses import dataclass, field
from typing import Any

JsonDict = dict[str, Any]

METHODS = ("getMe", "setWebhook", "deleteWebhook", "getWebhookInfo", "getUpdates", "sendMessage",
           "answerCallbackQuery", "getFile", "sendPhoto", "sendDocument", "sendLocation", "sendVenue",
           "sendContact")
METHOD_NAMES = {name.lower(): name for name in METHODS}
TOKEN_RE = re.compile(r"^\d{1,15}:[A-Za-z0-9_-]{1,100}$")
SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
CONFLICT = ("Conflict: can't use getUpdates method while webhook is active; "
             "use deleteWebhook to delete the webhook first")


class BotApiError(Exception):
    """A Bot API failure; answered with HTTP status == error_code, as aiogram expects."""

    def __init__(self, status: int, description: str, *, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after

    def body(self) -> JsonDict:
        body: JsonDict = {"ok": False, "error_code": self.status, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


class SandboxError(Exception):
    """Misuse of the sandbox's own API (citizen side, control); ``status`` is the HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class BotSpec:
    token: str
    username: str
    first_name: str


@dataclass
class Queued:
    update: JsonDict
    chat_id: int


@dataclass
class Failure:
    status: int
    description: str
    retry_after: int | None
    times: int


@dataclass
class Webhook:
    url: str
    secret_token: str | None
    max_connections: int
    generation: int


@dataclass
class StoredFile:
    """A file the bot may fetch with getFile (the citizen's) or has sent (its own)."""

    file_id: str
    file_unique_id: str
    file_path: str
    mime_type: str
    name: str | None
    data: bytes = field(repr=False)

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def describe(self) -> JsonDict:
        """What tests and the citizen page see of it (never the bytes)."""
        return {"file_id": self.file_id, "name": self.name, "mime_type": self.mime_type, "size": self.size,
                "sha256": self.sha256}


@dataclass
class Chat:
    user: JsonDict
    next_message_id: int
    blocked: bool = False
    bot_messages: dict[int, JsonDict] = field(default_factory=dict)
    transcript: list[JsonDict] = field(default_factory=list)

    def take_message_id(self) -> int:
        # Both sides of a private chat draw from one message_id sequence, as in Telegram.
        self.next_message_id += 1
        return self.next_message_id - 1

    def chat_object(self) -> JsonDict:
        chat = {k: v for k, v in self.user.items() if k in ("id", "first_name", "last_name", "username")}
        return {**chat, "type": "private"}


@dataclass
class BotState:
    spec: BotSpec
    user: JsonDict
    next_update_id: int
    queue: list[Queued] = field(default_factory=list)
    chats: dict[int, Chat] = field(default_factory=dict)
    webhook: Webhook | None = None
    allowed_updates: list[str] | None = None
    last_error: tuple[int, str] | None = None
    failures: dict[str, list[Failure]] = field(default_factory=dict)
    open_queries: dict[str, int] = field(default_factory=dict)  # callback query id -> chat id
    duplicate_pushes: int = 0
    sends: list[JsonDict] = field(default_factory=list)
    files: dict[str, StoredFile] = field(default_factory=dict)  # file_id -> file
    issued_paths: dict[str, str] = field(default_factory=dict)  # file_path handed out by getFile -> file_id


def fresh_id_base() -> int:
    # A restarted sandbox must not reuse update/message ids that a persistent civdesk database has
    # already seen and would dedupe: start each run in its own block of 1000 ids per second.
    return 1 + (int(time.time()) % 1_000_000) * 1000


def plain_text(text: str, parse_mode: str | None) -> str:
    # Telegram returns the text without markup; only HTML is undone here, enough for the page.
    if (parse_mode or "").lower() != "html":
        return text
    return html.unescape(re.sub(r"<[^>]*>", "", text))


def citizen_message(chat: Chat, message_id: int, text: str) -> JsonDict:
    message: JsonDict = {"message_id": message_id, "from": dict(chat.user), "chat": chat.chat_object(),
                         "date": int(time.time()), "text": text}
    if not text:
        del message["text"]  # a file without a caption
        return message
    if text.startswith("/"):
        command = text.split(maxsplit=1)[0]
        # Entity offsets and lengths are counted in UTF-16 code units.
        message["entities"] = [{"offset": 0, "length": len(command.encode("utf-16-le")) // 2,
                                "type": "bot_command"}]
    return message


def member_change(bot: BotState, chat: Chat, *, blocked: bool) -> JsonDict:
    """The my_chat_member payload a private chat gets when its user blocks or unblocks the bot."""
    bot_member = {k: bot.user[k] for k in ("id", "is_bot", "first_name", "username")}
    kicked = {"user": bot_member, "status": "kicked", "until_date": 0}
    member = {"user": dict(bot_member), "status": "member"}
    return {"chat": chat.chat_object(), "from": {k: v for k, v in chat.user.items() if k != "language_code"},
            "date": int(time.time()), "old_chat_member": member if blocked else kicked,
            "new_chat_member": kicked if blocked else member}
