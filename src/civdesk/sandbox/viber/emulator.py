"""In-memory Viber: the REST API a bot calls and the actions of the citizens it talks to.

The state, loop binding and test helpers are in core.py; this adds what the platform's two sides do.
"""

from __future__ import annotations

import re
import secrets
import time
from urllib.parse import quote

from civdesk.sandbox.viber.core import CHAT_HOSTNAME, EmulatorCore
from civdesk.sandbox.viber.state import (
    FILTERABLE_EVENTS,
    AccountSpec,
    JsonDict,
    Media,
    SandboxError,
    ViberApiError,
    Webhook,
    now_ms,
    validate_message,
)

__all__ = ["AccountSpec", "SandboxError", "ViberApiError", "ViberEmulator"]


class ViberEmulator(EmulatorCore):
    # -- REST API side (called by the routes, on the server loop) -----------------------------------

    def begin_call(self, token: str | None, endpoint: str) -> None:
        """Authenticate and apply injected failures."""
        with self._cond:
            if not token:
                raise ViberApiError(2, "missing_auth_token")
            account = self._accounts.get(token)
            if account is None:
                raise ViberApiError(2)
            queue = account.failures.get(endpoint, [])
            if queue:
                failure = queue[0]
                failure.times -= 1
                if failure.times <= 0:
                    queue.pop(0)
                raise ViberApiError(failure.status, failure.status_message, http_status=failure.http_status)

    async def set_webhook(self, token: str, *, url: str, event_types: list[str] | None, send_name: bool,
                          send_photo: bool) -> JsonDict:
        with self._cond:
            account = self._account(token)
            if not url:
                account.webhook = None
                self._notify(token)
                return {"status": 0, "status_message": "ok", "chat_hostname": CHAT_HOSTNAME}
            probe = {"event": "webhook", "timestamp": now_ms(), "chat_hostname": CHAT_HOSTNAME,
                     "message_token": next(self._tokens)}
            pusher = self._pusher
        if not re.match(r"^https?://[^/\s]+", url):
            raise ViberApiError(1, "invalidUrl")
        if event_types is not None and any(e not in FILTERABLE_EVENTS for e in event_types):
            raise ViberApiError(3, f"event_types may hold only {', '.join(FILTERABLE_EVENTS)}")
        applied = list(FILTERABLE_EVENTS) if event_types is None else list(event_types)
        if pusher is None:
            raise ViberApiError(1, "the sandbox is not bound to a loop")
        error = await pusher.probe(token, url, probe)
        with self._cond:
            if error is not None:
                account.last_error = (int(time.time()), error)
                raise ViberApiError(1, f"Failed to set webhook: {error}")
            account.webhook = Webhook(url=url, event_types=applied, send_name=send_name, send_photo=send_photo)
            self._notify(token)
        return {"status": 0, "status_message": "ok", "chat_hostname": CHAT_HOSTNAME, "event_types": applied}

    def send_message(self, token: str, body: JsonDict) -> JsonDict:
        with self._cond:
            account = self._account(token)
            if account.webhook is None:
                raise ViberApiError(10)
            validate_message(body, welcome=False)
            user = account.users.get(body["receiver"])
            if user is None:
                raise ViberApiError(5)
            if not user.subscribed:
                raise ViberApiError(6)
            now = time.time()
            user.unanswered = [t for t in user.unanswered if now - t < self.unanswered_window]
            if len(user.unanswered) >= self.unanswered_limit:
                raise ViberApiError(12)
            user.unanswered.append(now)
            message_token = self._deliver_bot_message(account, user, body, method="send_message")
            return {"status": 0, "status_message": "ok", "message_token": message_token,
                    "chat_hostname": CHAT_HOSTNAME}

    def get_account_info(self, token: str) -> JsonDict:
        with self._cond:
            account = self._account(token)
            hook = account.webhook
            return {"status": 0, "status_message": "ok", "id": account.id, "chat_hostname": CHAT_HOSTNAME,
                    "name": account.spec.name, "uri": account.spec.uri, "icon": "", "background": "",
                    "category": "Government", "subcategory": "Public services", "country": "UA",
                    "location": {"lat": 50.45, "lon": 30.52}, "webhook": hook.url if hook else "",
                    "event_types": list(hook.event_types) if hook else [],
                    "subscribers_count": sum(u.subscribed for u in account.users.values()),
                    "members": [{"id": "sandbox-admin=", "name": "Адміністратор", "role": "admin"}]}

    def get_user_details(self, token: str, user_id: str) -> JsonDict:
        with self._cond:
            user = self._account(token).users.get(user_id)
            if user is None:
                raise ViberApiError(5)
            return {"status": 0, "status_message": "ok", "chat_hostname": CHAT_HOSTNAME,
                    "user": {**user.profile(), "primary_device_os": "Android 14", "viber_version": "24.0",
                             "device_type": "sandbox", "mcc": 255, "mnc": 1}}

    # -- citizen side ------------------------------------------------------------------------------

    def citizen_opens_chat(self, *, token: str, user_id: str, name: str | None = None,
                           context: str | None = None) -> JsonDict:
        """conversation_started: the citizen opened the bot's chat (a deep link may carry `context`)."""
        with self._cond:
            account = self._account(token)
            user = self._user(account, user_id, name)
            self._log(user, "citizen", "opened", context=context)
            callback: JsonDict = {"event": "conversation_started", "timestamp": now_ms(),
                                  "chat_hostname": CHAT_HOSTNAME, "message_token": next(self._tokens),
                                  "type": "open", "user": self._profile(account, user),
                                  "subscribed": user.subscribed}
            if context is not None:
                callback["context"] = context
            return self._enqueue(account, user.id, callback)

    def citizen_subscribes(self, *, token: str, user_id: str, name: str | None = None) -> JsonDict:
        with self._cond:
            account = self._account(token)
            user = self._user(account, user_id, name)
            if user.subscribed:
                raise SandboxError(409, "the citizen is already subscribed")
            user.subscribed = True
            self._log(user, "citizen", "subscribed")
            return self._enqueue(account, user.id, {
                "event": "subscribed", "timestamp": now_ms(), "chat_hostname": CHAT_HOSTNAME,
                "user": self._profile(account, user), "message_token": next(self._tokens)})

    def citizen_unsubscribes(self, *, token: str, user_id: str) -> JsonDict:
        with self._cond:
            account = self._account(token)
            user = self._known_user(account, user_id)
            if not user.subscribed:
                raise SandboxError(409, "the citizen is not subscribed")
            user.subscribed = False
            self._log(user, "citizen", "unsubscribed")
            return self._enqueue(account, user.id, {
                "event": "unsubscribed", "timestamp": now_ms(), "chat_hostname": CHAT_HOSTNAME,
                "user_id": user.id, "message_token": next(self._tokens)})

    def citizen_says(self, *, token: str, user_id: str, text: str, name: str | None = None) -> JsonDict:
        if not text.strip() or len(text) > 7000:
            raise SandboxError(422, "text must be 1-7000 characters")
        return self._citizen_message(token, user_id, name, {"type": "text", "text": text})

    def citizen_presses(self, *, token: str, user_id: str, button: str) -> JsonDict:
        """A tap on a reply button of the last keyboard, found by its ActionBody or its visible Text."""
        with self._cond:
            user = self._known_user(self._account(token), user_id)
            buttons = (user.keyboard or {}).get("Buttons", [])
            match = next((b for b in buttons if b.get("ActionType", "reply") == "reply"
                          and button in (b.get("ActionBody"), b.get("Text"))), None)
            if match is None:
                raise SandboxError(404, "the citizen's keyboard has no reply button like this")
            self._log(user, "citizen", "press", button=match["ActionBody"])
        return self._citizen_message(token, user_id, None, {"type": "text", "text": match["ActionBody"]})

    def citizen_sends_media(self, *, token: str, user_id: str, kind: str, data: bytes, name: str,
                            mime_type: str, text: str = "") -> JsonDict:
        """A picture, video or file: stored here and referred to by a media URL, as Viber's CDN does."""
        if kind not in ("picture", "video", "file") or not data or not name.strip():
            raise SandboxError(422, "kind must be picture, video or file, with data and a name")
        with self._cond:
            if self._public_url is None:
                raise SandboxError(409, "the sandbox does not know its public URL yet (set_public_url)")
            media_id = secrets.token_hex(8)
            self._media[media_id] = Media(data=data, mime_type=mime_type, name=name)
            url = f"{self._public_url}/sandbox/viber/media/{media_id}/{quote(name, safe='')}"
        message: JsonDict = {"type": kind, "media": url, "size": len(data)}
        if kind in ("picture", "video"):
            message["thumbnail"] = url
        if kind == "picture":
            message["text"] = text
        if kind == "video":
            message["duration"] = 0
        if kind == "file":
            message["file_name"] = name
        return self._citizen_message(token, user_id, None, message)

    def citizen_shares_location(self, *, token: str, user_id: str, lat: float, lon: float) -> JsonDict:
        return self._citizen_message(token, user_id, None,
                                     {"type": "location", "location": {"lat": lat, "lon": lon}})

    def citizen_shares_contact(self, *, token: str, user_id: str, name: str, phone_number: str) -> JsonDict:
        return self._citizen_message(token, user_id, None,
                                     {"type": "contact", "contact": {"name": name, "phone_number": phone_number}})

    def citizen_sends_sticker(self, *, token: str, user_id: str, sticker_id: int) -> JsonDict:
        return self._citizen_message(token, user_id, None, {"type": "sticker", "sticker_id": sticker_id})

    def citizen_sends_url(self, *, token: str, user_id: str, url: str) -> JsonDict:
        return self._citizen_message(token, user_id, None, {"type": "url", "media": url})

    def citizen_reads(self, *, token: str, user_id: str) -> list[JsonDict]:
        """`seen` for every bot message the citizen has not seen yet."""
        with self._cond:
            account = self._account(token)
            user = self._known_user(account, user_id)
            tokens, user.undelivered = user.undelivered, []
            if tokens:
                self._log(user, "citizen", "seen", message_tokens=tokens)
            return [self._enqueue(account, user.id, self._receipt("seen", t, user.id)) for t in tokens]

    def fail_delivery(self, *, token: str, message_token: int, desc: str) -> JsonDict:
        """A `failed` callback for one of the bot's messages (Viber could not deliver it)."""
        with self._cond:
            account = self._account(token)
            send = next((s for s in account.sends if s["message_token"] == message_token), None)
            if send is None:
                raise SandboxError(404, "the bot sent no message with this token")
            return self._enqueue(account, send["receiver"],
                                 {**self._receipt("failed", message_token, send["receiver"]), "desc": desc})

    def _citizen_message(self, token: str, user_id: str, name: str | None, message: JsonDict) -> JsonDict:
        with self._cond:
            account = self._account(token)
            user = self._user(account, user_id, name)
            # Writing subscribes the citizen, without a `subscribed` callback, and resets the hourly count.
            user.subscribed = True
            user.unanswered.clear()
            if user.tracking_data is not None:
                message["tracking_data"] = user.tracking_data
            callback = {"event": "message", "timestamp": now_ms(), "chat_hostname": CHAT_HOSTNAME,
                        "message_token": next(self._tokens), "sender": self._profile(account, user),
                        "message": message, "silent": False}
            self._log(user, "citizen", message["type"], message_token=callback["message_token"],
                      **{k: v for k, v in message.items() if k != "tracking_data"})
            return self._enqueue(account, user.id, callback)
