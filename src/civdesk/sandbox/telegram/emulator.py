"""In-memory Telegram: bots, private chats with citizens, the update queue and recorded sends.

Public methods are plain sync and thread-safe (one lock), so a test thread can act as the citizen
while uvicorn answers the Bot API on its own loop. Changes are handed to that loop with
``call_soon_threadsafe``: there long polls wake up and the webhook pusher delivers.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import re
import threading
import time
from collections.abc import Iterable
from typing import Any

from civdesk.sandbox.telegram.controls import ControlsMixin
from civdesk.sandbox.telegram.media import MediaMixin
from civdesk.sandbox.telegram.rich import RichMixin
from civdesk.sandbox.telegram.state import (
    CONFLICT,
    METHOD_NAMES,
    SECRET_RE,
    TOKEN_RE,
    BotApiError,
    BotSpec,
    BotState,
    Chat,
    JsonDict,
    Queued,
    SandboxError,
    Webhook,
    citizen_message,
    fresh_id_base,
    member_change,
    plain_text,
)
from civdesk.sandbox.telegram.webhook import WebhookPusher

__all__ = ["BotApiError", "BotSpec", "SandboxError", "TelegramEmulator"]


class TelegramEmulator(MediaMixin, RichMixin, ControlsMixin):
    def __init__(self, *, bots: Iterable[BotSpec] = (), retry_base_delay: float = 1.0,
                 retry_max_delay: float = 60.0, push_timeout: float = 10.0,
                 id_base: int | None = None) -> None:
        self.retry_base_delay = retry_base_delay
        self.retry_max_delay = retry_max_delay
        self.push_timeout = push_timeout
        self._id_base = fresh_id_base() if id_base is None else id_base
        self._cond = threading.Condition()
        self._bots: dict[str, BotState] = {}
        self._seq = 0
        self._generations = itertools.count(1)
        self._query_ids = itertools.count(self._id_base * 1000)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._poll_events: dict[str, asyncio.Event] = {}
        self._pusher: WebhookPusher | None = None
        for spec in bots:
            self.add_bot(token=spec.token, username=spec.username, first_name=spec.first_name)

    # -- loop binding ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind to the running (server) loop; the app lifespan calls it, Bot API calls do it lazily."""
        self.bind_loop()

    def bind_loop(self) -> None:
        loop = asyncio.get_running_loop()
        with self._cond:
            if self._loop is loop:
                return
            self._loop = loop
            self._poll_events = {}
            self._pusher = WebhookPusher(self._bots, self._cond, retry_base_delay=self.retry_base_delay,
                                         retry_max_delay=self.retry_max_delay, timeout=self.push_timeout)
            tokens = list(self._bots)
        for token in tokens:
            self._on_changed(token)

    async def stop(self) -> None:
        with self._cond:
            pusher, self._pusher, self._loop = self._pusher, None, None
        if pusher is not None:
            await pusher.aclose()

    def _notify(self, token: str) -> None:
        """Called with the lock held after any change to a bot's state."""
        self._cond.notify_all()
        loop = self._loop
        if loop is not None and not loop.is_closed():
            # The loop may close right after the check; a later start() catches up then.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._on_changed, token)

    def _on_changed(self, token: str) -> None:
        event = self._poll_events.pop(token, None)
        if event is not None:
            event.set()
        if self._pusher is not None:
            self._pusher.kick(token)

    # -- bots --------------------------------------------------------------------------------------

    def add_bot(self, *, token: str, username: str, first_name: str) -> None:
        if not TOKEN_RE.match(token):
            raise SandboxError(422, "token must look like 123456:ABC-def")
        if not username or not first_name:
            raise SandboxError(422, "username and first_name are required")
        spec = BotSpec(token=token, username=username.lstrip("@"), first_name=first_name)
        user = {"id": int(token.split(":", 1)[0]), "is_bot": True, "first_name": spec.first_name,
                "username": spec.username}
        with self._cond:
            existing = self._bots.get(token)
            if existing is not None:
                if existing.spec != spec:
                    raise SandboxError(409, "a different bot already uses this token")
                return
            self._bots[token] = BotState(spec=spec, user=user, next_update_id=self._id_base)

    def bots(self) -> list[JsonDict]:
        with self._cond:
            return [{"token": b.spec.token, "username": b.spec.username, "first_name": b.spec.first_name,
                     "id": b.user["id"], "webhook_url": b.webhook.url if b.webhook else ""}
                    for b in self._bots.values()]

    def _bot(self, token: str) -> BotState:
        bot = self._bots.get(token)
        if bot is None:
            raise SandboxError(404, "unknown bot token")
        return bot

    # -- Bot API side (called by the routes, on the server loop) ------------------------------------

    def begin_call(self, token: str, method: str) -> str:
        """Authenticate and apply injected failures; returns the canonical method name."""
        with self._cond:
            bot = self._bots.get(token)
            if bot is None:
                raise BotApiError(401, "Unauthorized")
            name = METHOD_NAMES.get(method.lower())
            if name is None:
                raise BotApiError(404, "Not Found")
            queue = bot.failures.get(name, [])
            if queue:
                failure = queue[0]
                failure.times -= 1
                if failure.times <= 0:
                    queue.pop(0)
                raise BotApiError(failure.status, failure.description, retry_after=failure.retry_after)
            return name

    def get_me(self, token: str) -> JsonDict:
        with self._cond:
            return {**self._bot(token).user, "can_join_groups": True, "can_read_all_group_messages": False,
                    "supports_inline_queries": False, "can_connect_to_business": False,
                    "has_main_web_app": False}

    def set_webhook(self, token: str, *, url: str, secret_token: str | None, max_connections: int,
                    allowed_updates: list[str] | None, drop_pending_updates: bool) -> None:
        if url and not re.match(r"^https?://[^/\s]+", url):
            raise BotApiError(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
        if secret_token is not None and not SECRET_RE.match(secret_token):
            raise BotApiError(400, "Bad Request: bad webhook: secret token contains unallowed characters")
        with self._cond:
            bot = self._bot(token)
            bot.webhook = (Webhook(url=url, secret_token=secret_token,
                                    max_connections=min(max(max_connections, 1), 100),
                                    generation=next(self._generations)) if url else None)
            if allowed_updates is not None:
                bot.allowed_updates = allowed_updates or None
            if drop_pending_updates:
                bot.queue.clear()
            bot.last_error = None
            self._notify(token)

    def delete_webhook(self, token: str, *, drop_pending_updates: bool) -> bool:
        """Returns whether a webhook was set."""
        with self._cond:
            bot = self._bot(token)
            had, bot.webhook = bot.webhook is not None, None
            if drop_pending_updates:
                bot.queue.clear()
            self._notify(token)
            return had

    def get_webhook_info(self, token: str) -> JsonDict:
        with self._cond:
            bot = self._bot(token)
            info: JsonDict = {"url": bot.webhook.url if bot.webhook else "", "has_custom_certificate": False,
                              "pending_update_count": len(bot.queue)}
            if bot.webhook is not None:
                info["max_connections"] = bot.webhook.max_connections
                if bot.allowed_updates:
                    info["allowed_updates"] = list(bot.allowed_updates)
            if bot.last_error is not None:
                info["last_error_date"], info["last_error_message"] = bot.last_error
            return info

    async def get_updates(self, token: str, *, offset: int, limit: int, poll_seconds: float,
                          allowed_updates: list[str] | None) -> list[JsonDict]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(poll_seconds, 0.0)
        with self._cond:
            bot = self._bot(token)
            if bot.webhook is not None:
                raise BotApiError(409, CONFLICT)
            if allowed_updates is not None:
                bot.allowed_updates = allowed_updates or None
            if offset < 0:
                del bot.queue[:offset]
        while True:
            with self._cond:
                if bot.webhook is not None:
                    raise BotApiError(409, CONFLICT)
                if offset > 0:
                    bot.queue = [q for q in bot.queue if q.update["update_id"] >= offset]
                batch = [q.update for q in bot.queue[:limit]]
                remaining = deadline - loop.time()
                if batch or remaining <= 0:
                    return batch
                # Taken in the same locked step as the check, so no wakeup can slip in between.
                event = self._poll_events.setdefault(token, asyncio.Event())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)

    def send_message(self, token: str, *, chat_id: int | str, text: str, parse_mode: str | None,
                     reply_markup: JsonDict | None) -> JsonDict:
        if not text.strip():
            raise BotApiError(400, "Bad Request: message text is empty")
        if len(text) > 4096:
            raise BotApiError(400, "Bad Request: message is too long")
        record = {"method": "sendMessage", "chat_id": chat_id, "text": text, "parse_mode": parse_mode,
                  "reply_markup": reply_markup}
        return self._bot_sends(token, chat_id, {"text": plain_text(text, parse_mode)}, record)

    def _bot_sends(self, token: str, chat_id: int | str, content: JsonDict, record: JsonDict, *,
                   page_text: str | None = None) -> JsonDict:
        """Sends a message of the bot's to a chat; `record` is what the tests see of the call."""
        with self._cond:
            bot = self._bot(token)
            chat = self._recipient(bot, chat_id)
            return self._bot_says(bot, chat, content, record, page_text=page_text)

    def _recipient(self, bot: BotState, chat_id: int | str) -> Chat:
        chat = bot.chats.get(chat_id) if isinstance(chat_id, int) else None
        if chat is None:
            raise BotApiError(400, "Bad Request: chat not found")
        if chat.blocked:
            raise BotApiError(403, "Forbidden: bot was blocked by the user")
        return chat

    def _bot_says(self, bot: BotState, chat: Chat, content: JsonDict, record: JsonDict,
                  page_file: JsonDict | None = None, page_text: str | None = None) -> JsonDict:
        """Records a message the bot sent (the lock held): `content` (its text, file, location, …) in the
        envelope every message has. Returns it as the Bot API answers."""
        message: JsonDict = {"message_id": chat.take_message_id(), "from": dict(bot.user),
                             "chat": chat.chat_object(), "date": int(time.time()), **content}
        reply_markup = record.get("reply_markup")
        # Telegram echoes only inline keyboards back in the Message.
        if isinstance(reply_markup, dict) and "inline_keyboard" in reply_markup:
            message["reply_markup"] = reply_markup
        chat.bot_messages[message["message_id"]] = message
        bot.sends.append({**record, "message_id": message["message_id"], "time": time.time()})
        extra = {"file": page_file} if page_file else {}
        self._log(chat, "bot", "message", message_id=message["message_id"],
                  text=page_text or message.get("text", message.get("caption") or ""), reply_markup=reply_markup,
                  date=message["date"], **extra)
        self._notify(bot.spec.token)
        return copy.deepcopy(message)

    def answer_callback_query(self, token: str, *, callback_query_id: str, text: str | None,
                              show_alert: bool) -> None:
        with self._cond:
            bot = self._bot(token)
            if callback_query_id not in bot.open_queries:
                raise BotApiError(400, "Bad Request: query is too old and response timeout expired "
                                       "or query ID is invalid")
            chat_id = bot.open_queries.pop(callback_query_id)
            bot.sends.append({"method": "answerCallbackQuery", "chat_id": chat_id, "text": text,
                              "show_alert": show_alert, "callback_query_id": callback_query_id,
                              "time": time.time()})
            if text:
                self._log(bot.chats[chat_id], "bot", "notice", text=text, show_alert=show_alert)
            self._notify(token)

    # -- citizen side ------------------------------------------------------------------------------

    def citizen_says(self, *, token: str, chat_id: int, text: str, first_name: str | None = None,
                     last_name: str | None = None, username: str | None = None) -> JsonDict:
        """A private-chat text message; names left out keep the chat's (a new chat is "Олена")."""
        if not text.strip() or len(text) > 4096:
            raise SandboxError(422, "text must be 1-4096 characters")
        if chat_id <= 0:
            raise SandboxError(422, "a private chat id is a positive integer")
        if first_name is not None and not first_name.strip():
            raise SandboxError(422, "first_name must not be empty")
        with self._cond:
            bot = self._bot(token)
            chat = self._chat(bot, chat_id, create=True)
            names = {"first_name": first_name, "last_name": last_name, "username": username}
            chat.user = {"id": chat_id, "is_bot": False, "first_name": "Олена", **chat.user,
                         **{k: v for k, v in names.items() if v}, "language_code": "uk"}
            message = citizen_message(chat, chat.take_message_id(), text)
            self._log(chat, "citizen", "message", message_id=message["message_id"], text=text,
                      date=message["date"])
            return self._enqueue(bot, chat_id, "message", message)

    def citizen_presses(self, *, token: str, chat_id: int, callback_data: str, message_id: int) -> JsonDict:
        if not 1 <= len(callback_data.encode()) <= 64:
            raise SandboxError(422, "callback_data must be 1-64 bytes")
        with self._cond:
            bot = self._bot(token)
            chat = self._chat(bot, chat_id, writable=True)
            message = chat.bot_messages.get(message_id)
            if message is None:
                raise SandboxError(404, "the bot sent no message with this message_id to this chat")
            query_id = str(next(self._query_ids))
            bot.open_queries[query_id] = chat_id
            self._log(chat, "citizen", "press", message_id=message_id, callback_data=callback_data)
            return self._enqueue(bot, chat_id, "callback_query", {
                "id": query_id, "from": dict(chat.user), "message": copy.deepcopy(message),
                "chat_instance": str(bot.user["id"] * 7 + chat_id), "data": callback_data})

    def citizen_blocks_bot(self, *, token: str, chat_id: int) -> JsonDict:
        return self._set_blocked(token, chat_id, blocked=True)

    def citizen_unblocks_bot(self, *, token: str, chat_id: int) -> JsonDict:
        return self._set_blocked(token, chat_id, blocked=False)

    def _set_blocked(self, token: str, chat_id: int, *, blocked: bool) -> JsonDict:
        with self._cond:
            bot = self._bot(token)
            chat = self._chat(bot, chat_id)
            if chat.blocked == blocked:
                raise SandboxError(409, "the bot is already " + ("blocked" if blocked else "unblocked"))
            chat.blocked = blocked
            self._log(chat, "citizen", "blocked" if blocked else "unblocked")
            return self._enqueue(bot, chat_id, "my_chat_member", member_change(bot, chat, blocked=blocked))

    def _chat(self, bot: BotState, chat_id: int, *, create: bool = False, writable: bool = False) -> Chat:
        chat = bot.chats.get(chat_id)
        if chat is None and create:
            chat = bot.chats[chat_id] = Chat(user={}, next_message_id=self._id_base)
        if chat is None:
            raise SandboxError(404, "no citizen has written to this bot from this chat id")
        if chat.blocked and (create or writable):
            raise SandboxError(409, "the citizen has blocked this bot; unblock it first")
        return chat

    def _log(self, chat: Chat, sender: str, kind: str, **fields: Any) -> None:
        self._seq += 1
        chat.transcript.append({"seq": self._seq, "from": sender, "kind": kind, "time": time.time(),
                                **fields})

    def _enqueue(self, bot: BotState, chat_id: int, kind: str, payload: JsonDict) -> JsonDict:
        update = {"update_id": bot.next_update_id, kind: payload}
        bot.next_update_id += 1
        if bot.allowed_updates is None or kind in bot.allowed_updates:
            bot.queue.append(Queued(update=update, chat_id=chat_id))
        self._notify(bot.spec.token)
        return copy.deepcopy(update)
