"""Webhook delivery as the Bot API server does it (WebhookActor.cpp).

One update at a time per chat, chats in parallel up to ``max_connections``; a non-2xx reply or a
connection error re-queues the update with a delay that starts at ``retry_base_delay`` and doubles
up to ``retry_max_delay``, unless the reply carries ``Retry-After``.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx

from civdesk.sandbox.telegram.state import BotState

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
_MAX_RETRY_AFTER = 3600.0  # the Bot API server's own clamp


@dataclass(frozen=True)
class PushJob:
    token: str
    update: dict[str, Any]
    url: str
    secret: str | None
    max_connections: int
    generation: int


class WebhookPusher:
    """Lives on the server loop; ``kick`` is called there whenever a bot's queue may have changed.

    It shares the emulator's bots and lock: the queue is the single truth for what is pending,
    whether a webhook or getUpdates drains it.
    """

    def __init__(self, bots: dict[str, BotState], lock: threading.Condition, *, retry_base_delay: float,
                 retry_max_delay: float, timeout: float) -> None:
        self._bots = bots
        self._lock = lock
        self._base_delay = retry_base_delay
        self._max_delay = retry_max_delay
        self._client = httpx.AsyncClient(timeout=timeout)
        self._workers: dict[tuple[str, int], asyncio.Task[None]] = {}
        self._limits: dict[tuple[str, int], asyncio.Semaphore] = {}

    def kick(self, token: str) -> None:
        with self._lock:
            bot = self._bots.get(token)
            chats = dict.fromkeys(q.chat_id for q in bot.queue) if bot and bot.webhook else {}
        for chat_id in chats:
            worker = self._workers.get((token, chat_id))
            if worker is None or worker.done():
                loop = asyncio.get_running_loop()
                self._workers[(token, chat_id)] = loop.create_task(self._deliver_chat(token, chat_id))

    async def aclose(self) -> None:
        workers = list(self._workers.values())
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        await self._client.aclose()

    async def _deliver_chat(self, token: str, chat_id: int) -> None:
        delay = self._base_delay
        while (job := self._next_job(token, chat_id)) is not None:
            error, retry_after = await self._post(job)
            if error is None:
                delay = self._base_delay
                if self._delivered(job):
                    await self._post(job)
                continue
            with self._lock:
                self._bots[token].last_error = (int(time.time()), error)
            await asyncio.sleep(retry_after if retry_after is not None else delay)
            delay = min(delay * 2, self._max_delay)

    def _next_job(self, token: str, chat_id: int) -> PushJob | None:
        """The chat's oldest pending update, read afresh so a changed or deleted webhook applies."""
        with self._lock:
            bot = self._bots[token]
            hook = bot.webhook
            queued = next((q for q in bot.queue if q.chat_id == chat_id), None)
            if hook is None or queued is None:
                return None
            return PushJob(token=token, update=queued.update, url=hook.url, secret=hook.secret_token,
                           max_connections=hook.max_connections, generation=hook.generation)

    def _delivered(self, job: PushJob) -> bool:
        """Drop the delivered update; returns whether to deliver it once more (duplicate injection)."""
        with self._lock:
            bot = self._bots[job.token]
            bot.queue = [q for q in bot.queue if q.update["update_id"] != job.update["update_id"]]
            duplicate = bot.duplicate_pushes > 0
            bot.duplicate_pushes -= int(duplicate)
            self._lock.notify_all()
            return duplicate

    async def _post(self, job: PushJob) -> tuple[str | None, float | None]:
        """Returns (error message, Retry-After seconds); no error means delivered."""
        headers = {"Content-Type": "application/json"}
        if job.secret:
            headers[SECRET_HEADER] = job.secret
        limit = self._limits.setdefault((job.token, job.generation), asyncio.Semaphore(job.max_connections))
        body = json.dumps(job.update, ensure_ascii=False).encode()
        try:
            async with limit:
                reply = await self._client.post(job.url, content=body, headers=headers)
        except httpx.ConnectError:
            return "Connection refused", None
        except httpx.TimeoutException:
            return "Timeout expired", None
        except httpx.HTTPError as exc:
            return f"Connection error: {exc.__class__.__name__}", None
        if 200 <= reply.status_code < 300:
            return None, None
        error = f"Wrong response from the webhook: {reply.status_code} {reply.reason_phrase}"
        return error, _retry_after(reply)


def _retry_after(reply: httpx.Response) -> float | None:
    try:
        seconds = float(reply.headers.get("Retry-After", ""))
    except ValueError:
        return None
    return min(max(seconds, 0.0), _MAX_RETRY_AFTER)
