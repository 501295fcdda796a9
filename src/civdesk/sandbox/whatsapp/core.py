"""The emulator's shared core: state, the lock, loop binding and the primitives both sides use."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import hashlib
import itertools
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from civdesk.sandbox.whatsapp.state import (
    JsonDict,
    Media,
    NumberSpec,
    NumberState,
    Queued,
    SandboxError,
    User,
    bad_token,
    documented_error,
    envelope,
    fresh_id_base,
    no_such_object,
    status_change,
    wamid,
)
from civdesk.sandbox.whatsapp.webhook import WebhookPusher


class EmulatorCore:
    """Holds the state; subclasses add the citizen side and the Graph API side."""

    def __init__(self, *, numbers: Iterable[NumberSpec] = (), retry_base_delay: float = 1.0,
                 retry_max_delay: float = 60.0, push_timeout: float = 10.0, messages_per_second: float = 80,
                 pair_burst: int = 45, pair_interval: float = 6.0, auto_receipts: bool = True,
                 id_base: int | None = None) -> None:
        self.retry_base_delay = retry_base_delay
        self.retry_max_delay = retry_max_delay
        self.push_timeout = push_timeout
        self.messages_per_second = messages_per_second
        self.pair_burst = pair_burst
        self.pair_interval = pair_interval
        self.auto_receipts = auto_receipts
        self._id_base = fresh_id_base() if id_base is None else id_base
        self._cond = threading.Condition()
        self._numbers: dict[str, NumberState] = {}
        self._tokens: dict[str, str] = {}
        self._media: dict[str, Media] = {}
        self._ids = itertools.count(1)
        self._push_ids = itertools.count(1)
        self._media_ids = itertools.count(9 * 10**17 + self._id_base * 10**6)
        self._media_key = secrets.token_bytes(16)
        self._offset = 0.0
        self._seq = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pusher: WebhookPusher | None = None
        for spec in numbers:
            self.add_number(spec)

    # -- loop binding ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind to the running (server) loop; the app lifespan calls it, Graph calls do it lazily."""
        self.bind_loop()

    def bind_loop(self) -> None:
        loop = asyncio.get_running_loop()
        with self._cond:
            if self._loop is loop:
                return
            self._loop = loop
            self._pusher = WebhookPusher(self._numbers, self._cond, retry_base_delay=self.retry_base_delay,
                                         retry_max_delay=self.retry_max_delay, timeout=self.push_timeout)
            ids = list(self._numbers)
        for phone_number_id in ids:
            self._pusher.kick(phone_number_id)

    async def stop(self) -> None:
        with self._cond:
            pusher, self._pusher, self._loop = self._pusher, None, None
        if pusher is not None:
            await pusher.aclose()

    def _notify(self, phone_number_id: str) -> None:
        """Called with the lock held after any change to a number's state."""
        self._cond.notify_all()
        loop, pusher = self._loop, self._pusher
        if loop is not None and pusher is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop may close right after the check
                loop.call_soon_threadsafe(pusher.kick, phone_number_id)

    # -- time, numbers, ids ------------------------------------------------------------------------

    def now(self) -> float:
        return time.time() + self._offset

    def advance_clock(self, seconds: float) -> None:
        """Moves the emulator's clock forward, e.g. past the 24-hour window."""
        with self._cond:
            self._offset += seconds

    def add_number(self, spec: NumberSpec) -> None:
        if not spec.phone_number_id.isdigit() or not spec.waba_id.isdigit():
            raise SandboxError(422, "phone_number_id and waba_id are digits")
        if not spec.token or not spec.app_secret or not spec.verified_name:
            raise SandboxError(422, "token, app_secret and verified_name are required")
        with self._cond:
            existing = self._numbers.get(spec.phone_number_id)
            if existing is not None:
                if existing.spec != spec:
                    raise SandboxError(409, "a different number already uses this phone_number_id")
                return
            if spec.token in self._tokens:
                raise SandboxError(409, "another number already uses this token")
            self._numbers[spec.phone_number_id] = NumberState(spec=spec)
            self._tokens[spec.token] = spec.phone_number_id

    def numbers(self) -> list[JsonDict]:
        with self._cond:
            return [{"phone_number_id": n.spec.phone_number_id, "display_phone_number": n.spec.display_phone_number,
                     "verified_name": n.spec.verified_name, "waba_id": n.spec.waba_id,
                     "webhook_url": n.webhook.url if n.webhook else ""} for n in self._numbers.values()]

    def _number(self, phone_number_id: str) -> NumberState:
        number = self._numbers.get(phone_number_id)
        if number is None:
            raise SandboxError(404, "unknown phone_number_id")
        return number

    def _next_wamid(self, tag: str) -> str:
        return wamid(tag, self._id_base, next(self._ids))

    def _user(self, number: NumberState, wa_id: str, name: str | None = None) -> User:
        user = number.users.get(wa_id)
        if user is None:
            user = number.users[wa_id] = User(wa_id=wa_id, name=name or "Олена", pair_tokens=self.pair_burst,
                                              pair_checked=self.now())
        elif name:
            user.name = name
        return user

    def _log(self, user: User, sender: str, kind: str, **fields: Any) -> None:
        self._seq += 1
        user.transcript.append({"seq": self._seq, "from": sender, "kind": kind, "time": self.now(), **fields})

    def _enqueue(self, number: NumberState, change: JsonDict) -> JsonDict:
        body = envelope(number.spec, [change])
        if number.batch is not None:
            number.batch.append(change)
        else:
            number.queue.append(Queued(body=body, push_id=next(self._push_ids)))
            self._notify(number.spec.phone_number_id)
        return copy.deepcopy(body)

    def authenticate(self, token: str | None, phone_number_id: str | None = None) -> NumberState:
        with self._cond:
            owner = self._tokens.get(token or "")
            if owner is None:
                raise bad_token()
            if phone_number_id is not None and phone_number_id != owner:
                raise no_such_object(phone_number_id)
            return self._numbers[owner]

    def _take_failure(self, number: NumberState, endpoint: str) -> None:
        failure = next((f for f in number.failures if f.endpoint in (endpoint, "any")), None)
        if failure is not None:
            failure.times -= 1
            if failure.times <= 0:
                number.failures.remove(failure)
            raise documented_error(failure.code)

    def _set_status(self, number: NumberState, user: User, message_id: str, status: str) -> JsonDict:
        number.outbound[message_id]["status"] = status
        for entry in user.transcript:
            if entry.get("wamid") == message_id:
                entry["status"] = status
        return self._enqueue(number, status_change(number.spec, message_id=message_id, status=status,
                                                   recipient=user.wa_id, at=self.now()))

    def _store_media(self, owner: str, data: bytes, mime_type: str, filename: str | None) -> str:
        media_id = str(next(self._media_ids))
        digest = base64.b64encode(hashlib.sha256(data).digest()).decode()
        self._media[media_id] = Media(data=data, mime_type=mime_type, sha256=digest, owner=owner, filename=filename)
        return media_id

    def _wait(self, done: Callable[[], bool], timeout: float, what: Callable[[], str]) -> None:
        with self._cond:
            if not self._cond.wait_for(done, timeout):
                raise TimeoutError(f"timed out after {timeout} s waiting for {what()}")
