"""Callbacks as Viber delivers them: signed JSON POSTs, retried "several times for an hour until the HTTP
code 200 OK is received" (developers.viber.com FAQ).

One callback at a time per citizen, citizens in parallel; a non-2xx answer or a connection error retries
the callback after a delay that starts at ``retry_base_delay`` and doubles up to ``retry_max_delay``;
after ``retry_window`` seconds from its first attempt the callback is dropped (tests shorten all three).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from civdesk.sandbox.viber.state import AccountState, Queued

SIGNATURE_HEADER = "X-Viber-Content-Signature"
ReplyHandler = Callable[[str, dict[str, Any], httpx.Response], None]


def sign(token: str, body: bytes) -> str:
    """Hex HMAC-SHA256 of the raw body, keyed with the account's auth token (Viber's callback signature)."""
    return hmac.new(token.encode(), body, hashlib.sha256).hexdigest()


def encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


@dataclass(frozen=True)
class _Job:
    token: str
    queued: Queued
    url: str


class WebhookPusher:
    """Lives on the server loop; ``kick`` is called there whenever an account's queue may have changed."""

    def __init__(self, accounts: dict[str, AccountState], lock: threading.Condition, *, on_reply: ReplyHandler,
                 retry_base_delay: float, retry_max_delay: float, retry_window: float, timeout: float,
                 sig_in_query: bool) -> None:
        self._accounts = accounts
        self._lock = lock
        self._on_reply = on_reply
        self._base_delay = retry_base_delay
        self._max_delay = retry_max_delay
        self._window = retry_window
        self._sig_in_query = sig_in_query
        self._client = httpx.AsyncClient(timeout=timeout)
        self._workers: dict[tuple[str, str], asyncio.Task[None]] = {}

    def kick(self, token: str) -> None:
        with self._lock:
            account = self._accounts.get(token)
            users = dict.fromkeys(q.user_id for q in account.queue) if account and account.webhook else {}
        for user_id in users:
            worker = self._workers.get((token, user_id))
            if worker is None or worker.done():
                task = asyncio.get_running_loop().create_task(self._deliver_user(token, user_id))
                self._workers[(token, user_id)] = task

    async def aclose(self) -> None:
        workers = list(self._workers.values())
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        await self._client.aclose()

    async def probe(self, token: str, url: str, payload: dict[str, Any]) -> str | None:
        """The availability check after set_webhook: one POST that must be answered 200. Returns the error."""
        reply, error = await self._post(token, url, payload)
        if reply is not None and reply.status_code != 200:
            return f"the webhook answered HTTP {reply.status_code}, Viber expects 200"
        return error

    async def _deliver_user(self, token: str, user_id: str) -> None:
        delay = self._base_delay
        while (job := self._next_job(token, user_id)) is not None:
            reply, error = await self._post(token, job.url, job.queued.body)
            if reply is not None and 200 <= reply.status_code < 300:
                delay = self._base_delay
                duplicate = self._delivered(job)
                self._on_reply(token, job.queued.body, reply)
                if duplicate:
                    await self._post(token, job.url, job.queued.body)
                continue
            error = error or f"the webhook answered HTTP {reply.status_code if reply else '?'}"
            with self._lock:
                account = self._accounts[token]
                account.last_error = (int(time.time()), error)
                first = job.queued.first_try or time.monotonic()
                if time.monotonic() - first >= self._window:
                    account.queue = [q for q in account.queue if q is not job.queued]
                    account.dropped.append({"body": job.queued.body, "error": error})
                    self._lock.notify_all()
                    continue
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._max_delay)

    def _next_job(self, token: str, user_id: str) -> _Job | None:
        """The citizen's oldest pending callback, read afresh so a changed or removed webhook applies."""
        with self._lock:
            account = self._accounts[token]
            queued = next((q for q in account.queue if q.user_id == user_id), None)
            if account.webhook is None or queued is None:
                return None
            if queued.first_try is None:
                queued.first_try = time.monotonic()
            return _Job(token=token, queued=queued, url=account.webhook.url)

    def _delivered(self, job: _Job) -> bool:
        """Drops the delivered callback; returns whether to deliver it once more (duplicate injection)."""
        with self._lock:
            account = self._accounts[job.token]
            account.queue = [q for q in account.queue if q is not job.queued]
            duplicate = account.duplicate_pushes > 0
            account.duplicate_pushes -= int(duplicate)
            self._lock.notify_all()
            return duplicate

    async def _post(self, token: str, url: str, payload: dict[str, Any]) -> tuple[httpx.Response | None, str | None]:
        body = encode(payload)
        signature = sign(token, body)
        if self._sig_in_query:
            url = f"{url}{'&' if '?' in url else '?'}sig={signature}"
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: signature}
        try:
            return await self._client.post(url, content=body, headers=headers), None
        except httpx.ConnectError:
            return None, "Connection refused"
        except httpx.TimeoutException:
            return None, "Timeout expired"
        except httpx.HTTPError as exc:
            return None, f"Connection error: {exc.__class__.__name__}"
