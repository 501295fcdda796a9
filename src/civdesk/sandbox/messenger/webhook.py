"""Webhook delivery as Meta does it: signed POSTs, several events batched per body, retried until a 2xx.

One worker per Page keeps the Page's events in order ("Messages are always sent in order", messages.md).
A failed POST is retried with the same body after a delay that starts at ``retry_base_delay`` and doubles
up to ``retry_max_delay``; Meta's own schedule is not published, only that failures are retried.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass

import httpx

from civdesk.sandbox.messenger.state import Page, Queued, envelope, signatures

_KEPT_PUSHES = 200


@dataclass(frozen=True)
class Batch:
    page_id: str
    url: str
    body: bytes
    headers: dict[str, str]
    items: frozenset[int]  # seqs of the queued events, to drop exactly these once delivered


class WebhookPusher:
    def __init__(self, pages: dict[str, Page], lock: threading.Condition, *, retry_base_delay: float,
                 retry_max_delay: float, timeout: float, batch_size: int) -> None:
        self._pages = pages
        self._lock = lock
        self._base_delay = retry_base_delay
        self._max_delay = retry_max_delay
        self._batch_size = batch_size
        self._client = httpx.AsyncClient(timeout=timeout)
        self._workers: dict[str, asyncio.Task[None]] = {}

    def kick(self, page_id: str) -> None:
        worker = self._workers.get(page_id)
        if worker is None or worker.done():
            self._workers[page_id] = asyncio.get_running_loop().create_task(self._deliver(page_id))

    async def aclose(self) -> None:
        workers = list(self._workers.values())
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        await self._client.aclose()

    async def _deliver(self, page_id: str) -> None:
        delay = self._base_delay
        failed: Batch | None = None
        while (batch := self._next_batch(page_id, failed)) is not None:
            error = await self._post(batch)
            if error is None:
                delay, failed = self._base_delay, None
                if self._delivered(batch):
                    await self._post(batch)
                continue
            failed = batch
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._max_delay)

    def _next_batch(self, page_id: str, failed: Batch | None) -> Batch | None:
        """The Page's oldest events, read afresh so a changed webhook applies; a failed body is retried
        byte for byte while its URL and events stand."""
        with self._lock:
            page = self._pages.get(page_id)
            if page is None or not page.webhook_url or not page.subscribed_fields:
                return None
            # Events of fields the Page is not subscribed to are never sent, as with Meta.
            page.queue = [q for q in page.queue if q.field in page.subscribed_fields]
            if failed is not None and failed.url == page.webhook_url and \
                    failed.items <= {q.seq for q in page.queue}:
                return failed
            items: list[Queued] = page.queue[: self._batch_size]
            if not items:
                return None
            body = envelope(page_id, [q.event for q in items])
            headers = {"Content-Type": "application/json", **signatures(page.spec.app_secret, body)}
            return Batch(page_id=page_id, url=page.webhook_url, body=body, headers=headers,
                         items=frozenset(q.seq for q in items))

    def _delivered(self, batch: Batch) -> bool:
        """Drops the delivered events; returns whether to POST the body once more (duplicate injection)."""
        with self._lock:
            page = self._pages[batch.page_id]
            page.queue = [q for q in page.queue if q.seq not in batch.items]
            duplicate = page.duplicate_pushes > 0
            page.duplicate_pushes -= int(duplicate)
            self._lock.notify_all()
            return duplicate

    async def _post(self, batch: Batch) -> str | None:
        """Returns an error message, or None when the webhook answered 2xx."""
        status: int | None = None
        try:
            reply = await self._client.post(batch.url, content=batch.body, headers=batch.headers)
            status = reply.status_code
            error = None if 200 <= status < 300 else f"the webhook answered {status}"
        except httpx.TimeoutException:
            error = "the webhook timed out"
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            error = f"the webhook could not be reached ({exc.__class__.__name__})"
        with self._lock:
            page = self._pages[batch.page_id]
            page.pushes.append({"time": time.time(), "url": batch.url, "status": status, "error": error,
                                "body": batch.body.decode(), "headers": dict(batch.headers)})
            del page.pushes[:-_KEPT_PUSHES]
            page.last_error = error
            self._lock.notify_all()
        return error
