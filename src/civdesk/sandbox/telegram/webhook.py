"""Webhook delivery as the Bot API server does it (WebhookActor.cpp).

One update at a time per chat, chats in parallel up to ``max_connections``; a non-2xx reply or a
connection error re-queues the update with a delay that starts at ``retry_base_delay`` and doubles
up to ``retry_max_delay``, unless the reply carries ``Retry-After``.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from civdesk.sandbox.telegram.emulator import TelegramEmulator

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
    """Lives on the server loop; ``kick`` is called there whenever a bot's queue may have changed."""

    def __init__(self, emulator: TelegramEmulator, *, timeout: float) -> None:
        self._emulator = emulator
        self._client = httpx.AsyncClient(timeout=timeout)
        self._workers: dict[tuple[str, int], asyncio.Task[None]] = {}
        self._limits: dict[tuple[str, int], asyncio.Semaphore] = {}

    def kick(self, token: str) -> None:
        for chat_id in self._emulator.chats_to_push(token):
            key = (token, chat_id)
            worker = self._workers.get(key)
            if worker is None or worker.done():
                loop = asyncio.get_running_loop()
                self._workers[key] = loop.create_task(self._deliver_chat(token, chat_id))

    async def aclose(self) -> None:
        workers = list(self._workers.values())
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        await self._client.aclose()

    async def _deliver_chat(self, token: str, chat_id: int) -> None:
        delay = self._emulator.retry_base_delay
        while (job := self._emulator.next_push(token, chat_id)) is not None:
            error, retry_after = await self._post(job)
            if error is None:
                delay = self._emulator.retry_base_delay
                if self._emulator.push_succeeded(job):
                    await self._post(job)
                continue
            self._emulator.push_failed(job, error)
            await asyncio.sleep(retry_after if retry_after is not None else delay)
            delay = min(delay * 2, self._emulator.retry_max_delay)

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
