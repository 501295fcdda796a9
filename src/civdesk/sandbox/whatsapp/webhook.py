"""Webhook delivery as Meta does it: signed POSTs, retried on any non-2xx, and the GET handshake.

Meta retries a failed delivery "with decreasing frequency" for up to 7 days; here a number's bodies
go out one at a time in order, a failure retried in place after ``retry_base_delay`` doubling up to
``retry_max_delay``, until delivered or the emulator stops.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx

from civdesk.sandbox.whatsapp.state import NumberState

SIGNATURE_HEADER = "X-Hub-Signature-256"


def body_bytes(body: dict[str, Any]) -> bytes:
    # Meta sends compact JSON with non-ASCII escaped as \uXXXX; the signature covers these exact bytes.
    return json.dumps(body, ensure_ascii=True, separators=(",", ":")).encode()


def signature(app_secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def handshake_params(verify_token: str) -> tuple[dict[str, str], str]:
    """The query Meta sends to verify a callback URL, and the challenge it expects echoed back."""
    challenge = str(1_000_000_000 + secrets.randbelow(1_000_000_000))
    return {"hub.mode": "subscribe", "hub.challenge": challenge, "hub.verify_token": verify_token}, challenge


def handshake_failure(status: int, text: str, challenge: str) -> str | None:
    """Why a verification answer fails, in Meta's words, or None when it passes."""
    if status != 200:
        return f"Callback verification failed with the following errors: HTTP Status Code = {status}"
    if text.strip() != challenge:
        return "Callback verification failed: the response did not match the challenge parameter"
    return None


@dataclass(frozen=True)
class PushJob:
    phone_number_id: str
    push_id: int
    url: str
    app_secret: str
    body: bytes


class WebhookPusher:
    """Lives on the server loop; ``kick`` runs there whenever a number's queue may have changed."""

    def __init__(self, numbers: dict[str, NumberState], lock: threading.Condition, *, retry_base_delay: float,
                 retry_max_delay: float, timeout: float) -> None:
        self._numbers = numbers
        self._lock = lock
        self._base_delay = retry_base_delay
        self._max_delay = retry_max_delay
        self._client = httpx.AsyncClient(timeout=timeout)
        self._workers: dict[str, asyncio.Task[None]] = {}

    def kick(self, phone_number_id: str) -> None:
        worker = self._workers.get(phone_number_id)
        if worker is None or worker.done():
            loop = asyncio.get_running_loop()
            self._workers[phone_number_id] = loop.create_task(self._deliver(phone_number_id))

    async def aclose(self) -> None:
        workers = list(self._workers.values())
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        await self._client.aclose()

    async def _deliver(self, phone_number_id: str) -> None:
        delay = self._base_delay
        while (job := self._next_job(phone_number_id)) is not None:
            if await self._post(job):
                delay = self._base_delay
                if self._delivered(job):
                    await self._post(job)
                continue
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._max_delay)

    def _next_job(self, phone_number_id: str) -> PushJob | None:
        """The oldest pending body, read afresh so a changed webhook URL applies to the next attempt."""
        with self._lock:
            number = self._numbers[phone_number_id]
            if number.webhook is None or not number.queue:
                return None
            queued = number.queue[0]
            return PushJob(phone_number_id=phone_number_id, push_id=queued.push_id, url=number.webhook.url,
                           app_secret=number.spec.app_secret, body=body_bytes(queued.body))

    def _delivered(self, job: PushJob) -> bool:
        """Drops the delivered body; returns whether to post it once more (duplicate injection)."""
        with self._lock:
            number = self._numbers[job.phone_number_id]
            number.queue = [q for q in number.queue if q.push_id != job.push_id]
            duplicate = number.duplicate_pushes > 0
            number.duplicate_pushes -= int(duplicate)
            self._lock.notify_all()
            return duplicate

    async def _post(self, job: PushJob) -> bool:
        headers = {"Content-Type": "application/json", "User-Agent": "facebookexternalua",
                   SIGNATURE_HEADER: signature(job.app_secret, job.body)}
        try:
            reply = await self._client.post(job.url, content=job.body, headers=headers)
            outcome, ok = str(reply.status_code), 200 <= reply.status_code < 300
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            outcome, ok = exc.__class__.__name__, False
        with self._lock:
            self._numbers[job.phone_number_id].deliveries.append(
                {"push_id": job.push_id, "url": job.url, "outcome": outcome, "ok": ok, "time": time.time()})
            self._lock.notify_all()
        return ok
