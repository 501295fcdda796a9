"""The Viber emulator's core: accounts, citizens, the callback queue, loop binding and test helpers.

Public methods are plain sync and thread-safe (one lock), so a test thread can act as the citizen
while uvicorn serves the REST API on its own loop; changes are handed to that loop with
``call_soon_threadsafe``, where the webhook pusher delivers them.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import json
import re
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import httpx

from civdesk.sandbox.viber.state import (
    ALWAYS_SENT,
    ENDPOINTS,
    TOKEN_RE,
    USER_ID_RE,
    AccountSpec,
    AccountState,
    Failure,
    JsonDict,
    Media,
    Queued,
    SandboxError,
    User,
    ViberApiError,
    fresh_token_base,
    now_ms,
    validate_message,
)
from civdesk.sandbox.viber.webhook import WebhookPusher

CHAT_HOSTNAME = "SN-CHAT-01_"


class EmulatorCore:
    def __init__(self, *, accounts: Iterable[AccountSpec] = (), public_url: str | None = None,
                 retry_base_delay: float = 1.0, retry_max_delay: float = 300.0, retry_window: float = 3600.0,
                 push_timeout: float = 10.0, unanswered_limit: int = 100, unanswered_window: float = 3600.0,
                 auto_delivered: bool = True, sig_in_query: bool = False, token_base: int | None = None) -> None:
        self.retry_base_delay = retry_base_delay
        self.retry_max_delay = retry_max_delay
        self.retry_window = retry_window
        self.push_timeout = push_timeout
        self.unanswered_limit = unanswered_limit
        self.unanswered_window = unanswered_window
        self.auto_delivered = auto_delivered
        self.sig_in_query = sig_in_query
        self._public_url = public_url.rstrip("/") if public_url else None
        self._cond = threading.Condition()
        self._accounts: dict[str, AccountState] = {}
        self._media: dict[str, Media] = {}
        self._tokens = itertools.count(fresh_token_base() if token_base is None else token_base)
        self._seq = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pusher: WebhookPusher | None = None
        for spec in accounts:
            self.add_account(token=spec.token, name=spec.name, uri=spec.uri)

    # -- loop binding ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind to the running (server) loop; the router's lifespan calls it, API calls do it lazily."""
        self.bind_loop()

    def bind_loop(self) -> None:
        loop = asyncio.get_running_loop()
        with self._cond:
            if self._loop is loop:
                return
            self._loop = loop
            self._pusher = WebhookPusher(
                self._accounts, self._cond, on_reply=self._on_reply, retry_base_delay=self.retry_base_delay,
                retry_max_delay=self.retry_max_delay, retry_window=self.retry_window, timeout=self.push_timeout,
                sig_in_query=self.sig_in_query)
            tokens = list(self._accounts)
        for token in tokens:
            self._pusher.kick(token)

    async def stop(self) -> None:
        with self._cond:
            pusher, self._pusher, self._loop = self._pusher, None, None
        if pusher is not None:
            await pusher.aclose()

    def _notify(self, token: str) -> None:
        """Called with the lock held after any change to an account's state."""
        self._cond.notify_all()
        loop, pusher = self._loop, self._pusher
        if loop is not None and pusher is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop may close right after the check
                loop.call_soon_threadsafe(pusher.kick, token)

    def set_public_url(self, url: str) -> None:
        """Where this sandbox is reachable: media URLs in callbacks point here."""
        with self._cond:
            self._public_url = url.rstrip("/")

    def note_base_url(self, url: str) -> None:
        with self._cond:
            self._public_url = self._public_url or url.rstrip("/")

    # -- accounts ----------------------------------------------------------------------------------

    def add_account(self, *, token: str, name: str, uri: str | None = None) -> None:
        if not TOKEN_RE.match(token):
            raise SandboxError(422, "token must be 10-100 letters, digits or dashes")
        if not name.strip() or len(name) > 28:
            raise SandboxError(422, "name must be 1-28 characters")
        spec = AccountSpec(token=token, name=name, uri=uri or re.sub(r"[^a-z0-9]", "", name.lower()) or "bot")
        with self._cond:
            existing = self._accounts.get(token)
            if existing is not None:
                if existing.spec != spec:
                    raise SandboxError(409, "a different account already uses this token")
                return
            self._accounts[token] = AccountState(spec=spec, id=f"pa:{next(self._tokens) % 10**20}")

    def accounts(self) -> list[JsonDict]:
        with self._cond:
            return [{"token": a.spec.token, "name": a.spec.name, "uri": a.spec.uri, "id": a.id,
                     "webhook": a.webhook.url if a.webhook else ""} for a in self._accounts.values()]

    def _account(self, token: str) -> AccountState:
        account = self._accounts.get(token)
        if account is None:
            raise SandboxError(404, "unknown account token")
        return account

    def _deliver_bot_message(self, account: AccountState, user: User, body: JsonDict, *, method: str) -> int:
        message_token = next(self._tokens)
        account.sends.append({"method": method, "receiver": user.id, "message_token": message_token,
                              "time": time.time(), "body": copy.deepcopy(body)})
        if "keyboard" in body:  # the client keeps showing the last keyboard it was sent
            user.keyboard = copy.deepcopy(body["keyboard"])
        user.tracking_data = body.get("tracking_data")
        user.undelivered.append(message_token)
        self._log(user, "bot", body["type"], message_token=message_token, text=body.get("text", ""),
                  media=body.get("media"), file_name=body.get("file_name"), keyboard=body.get("keyboard"),
                  location=body.get("location"), contact=body.get("contact"))
        if self.auto_delivered:
            self._enqueue(account, user.id, self._receipt("delivered", message_token, user.id))
        self._notify(account.spec.token)
        return message_token

    def _on_reply(self, token: str, callback: JsonDict, reply: httpx.Response) -> None:
        """The webhook's answer to conversation_started may be the welcome message (send_message without
        receiver); answers to other callbacks are ignored, as by Viber."""
        if callback.get("event") != "conversation_started" or not reply.content.strip():
            return
        try:
            body = json.loads(reply.content)
        except ValueError:
            return
        if not isinstance(body, dict) or "type" not in body:
            return
        with self._cond:
            account = self._account(token)
            try:
                validate_message(body, welcome=True)
            except ViberApiError as exc:
                account.last_error = (int(time.time()), f"welcome message refused: {exc.status_message}")
                self._cond.notify_all()
                return
            user = account.users[callback["user"]["id"]]
            self._deliver_bot_message(account, user, body, method="welcome")

    def _user(self, account: AccountState, user_id: str, name: str | None) -> User:
        if not USER_ID_RE.match(user_id):
            raise SandboxError(422, "a Viber user id is 4-64 base64 characters")
        if name is not None and not name.strip():
            raise SandboxError(422, "name must not be empty")
        user = account.users.get(user_id)
        if user is None:
            user = account.users[user_id] = User(id=user_id, name=name or "Олена")
        elif name:
            user.name = name
        return user

    def _known_user(self, account: AccountState, user_id: str) -> User:
        user = account.users.get(user_id)
        if user is None:
            raise SandboxError(404, "no citizen with this id has contacted this bot")
        return user

    def _profile(self, account: AccountState, user: User) -> JsonDict:
        profile = user.profile()
        hook = account.webhook
        if hook is not None and not hook.send_name:
            profile.pop("name")
        if hook is not None and not hook.send_photo:
            profile.pop("avatar")
        return profile

    def _receipt(self, event: str, message_token: int, user_id: str) -> JsonDict:
        return {"event": event, "timestamp": now_ms(), "chat_hostname": CHAT_HOSTNAME,
                "message_token": message_token, "user_id": user_id}

    def _log(self, user: User, sender: str, kind: str, **fields: Any) -> None:
        self._seq += 1
        user.transcript.append({"seq": self._seq, "from": sender, "kind": kind, "time": time.time(), **fields})

    def _enqueue(self, account: AccountState, user_id: str, callback: JsonDict) -> JsonDict:
        hook = account.webhook
        event = callback["event"]
        # Without a webhook callbacks wait here and go out once one is set: a sandbox convenience, so that a
        # test or the page can act before civdesk has registered.
        if hook is None or event in ALWAYS_SENT or event in hook.event_types:
            self._seq += 1
            account.queue.append(Queued(user_id=user_id, body=callback, seq=self._seq))
        self._notify(account.spec.token)
        return copy.deepcopy(callback)

    # -- test and page helpers ---------------------------------------------------------------------

    def media(self, media_id: str) -> Media:
        with self._cond:
            found = self._media.get(media_id)
            if found is None:
                raise SandboxError(404, "no such media")
            return found

    def sent(self, *, token: str, user_id: str | None = None) -> list[JsonDict]:
        with self._cond:
            sends = self._account(token).sends
            return copy.deepcopy([s for s in sends if user_id is None or s["receiver"] == user_id])

    def history(self, *, token: str, user_id: str, after: int = 0) -> JsonDict:
        with self._cond:
            user = self._account(token).users.get(user_id)
            entries = [e for e in user.transcript if e["seq"] > after] if user else []
            return {"user_id": user_id, "subscribed": bool(user and user.subscribed),
                    "keyboard": copy.deepcopy(user.keyboard) if user else None,
                    "entries": copy.deepcopy(entries), "last_seq": self._seq}

    def webhook_info(self, *, token: str) -> JsonDict:
        with self._cond:
            account = self._account(token)
            return {"url": account.webhook.url if account.webhook else "", "pending": len(account.queue),
                    "dropped": copy.deepcopy(account.dropped),
                    "last_error": account.last_error[1] if account.last_error else None}

    def fail_next(self, *, token: str, endpoint: str, status: int, status_message: str | None = None,
                  http_status: int = 200, times: int = 1) -> None:
        """The next `times` calls of `endpoint` fail with Viber `status` (HTTP 200, as Viber answers), or
        with a transport failure when `http_status` is not 200."""
        if endpoint not in ENDPOINTS:
            raise SandboxError(422, f"unknown endpoint; known: {', '.join(ENDPOINTS)}")
        if not 1 <= status <= 999 or times < 1 or not (http_status == 200 or 400 <= http_status <= 599):
            raise SandboxError(422, "status must be 1-999, http_status 200 or 400-599, times >= 1")
        with self._cond:
            self._account(token).failures.setdefault(endpoint, []).append(
                Failure(status=status, status_message=status_message, http_status=http_status, times=times))

    def duplicate_next_push(self, *, token: str, times: int = 1) -> None:
        """The next `times` callbacks are each POSTed twice, as after a lost answer."""
        with self._cond:
            self._account(token).duplicate_pushes += times

    def wait_for_sends(self, *, token: str, user_id: str | None = None, count: int = 1,
                       timeout: float = 5.0) -> list[JsonDict]:
        """Block until `count` sends are recorded. Not for the server's own loop thread."""
        self._wait(lambda: len(self.sent(token=token, user_id=user_id)) >= count, timeout,
                   lambda: f"{count} sends to {user_id}; got {self.sent(token=token, user_id=user_id)}")
        return self.sent(token=token, user_id=user_id)

    def wait_until_delivered(self, *, timeout: float = 5.0) -> None:
        """Block until no account with a webhook has callbacks left to deliver."""
        def idle() -> bool:
            return all(not a.queue for a in self._accounts.values() if a.webhook is not None)
        self._wait(idle, timeout, lambda: "webhook deliveries to finish")

    # The blocking wait runs in a worker thread, which cannot be cancelled: it needs its own timeout.
    async def wait_idle(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        await asyncio.to_thread(self.wait_until_delivered, timeout=timeout)

    def _wait(self, done: Callable[[], bool], timeout: float, what: Callable[[], str]) -> None:
        with self._cond:
            if not self._cond.wait_for(done, timeout):
                raise TimeoutError(f"timed out after {timeout} s waiting for {what()}")
