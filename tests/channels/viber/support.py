"""Shared by the Viber adapter and emulator tests: a sandbox app, and a webhook endpoint that does what
civdesk's POST /webhooks/viber/<id> does (verify, parse, answer with immediate_reply)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request, Response
from starlette.responses import JSONResponse

from civdesk.channels.base import ChannelAccount, InboundEvent, MalformedPayload, SignatureInvalid
from civdesk.channels.viber import ViberAdapter
from civdesk.sandbox.viber import AccountSpec, ViberEmulator, create_router

TOKEN = "4a1bc2d3e4f5a6b7-c8d9e0f1a2b3c4d5-e6f7a8b9c0d1e2f3"
CITIZEN = "3SQNc4FPUQmysaM/AQEhXg=="  # a real-looking id, with the "/" that ids can hold


def make_emulator(**options: Any) -> ViberEmulator:
    defaults: dict[str, Any] = {"retry_base_delay": 0.05, "retry_max_delay": 0.2, "retry_window": 30.0,
                                "token_base": 5_466_358_343_372_472_277}
    return ViberEmulator(accounts=[AccountSpec(TOKEN, "Мінсоцполітики", "minsoc")], **{**defaults, **options})


def sandbox_app(emulator: ViberEmulator) -> FastAPI:
    app = FastAPI()
    app.include_router(create_router(emulator))
    return app


def account(api_base: str, token: str = TOKEN, **config: Any) -> ChannelAccount:
    return ChannelAccount(id=7, config={"api_base": api_base, "sender_name": "Мінсоцполітики", **config},
                          secrets={"token": token})


class CivdeskHook:
    """Records what arrives; ``override`` can force an HTTP status for the next calls (None: behave)."""

    def __init__(self, channel: ChannelAccount | None = None) -> None:
        self.adapter = ViberAdapter()
        self.channel = channel or account("http://unused")
        self.override: Callable[[dict[str, Any]], int | None] = lambda body: None
        self.requests: list[tuple[float, dict[str, str], bytes]] = []
        self.events: list[InboundEvent] = []
        self.ignored: list[str] = []
        self._cond = threading.Condition()
        self.app = FastAPI()

        @self.app.post("/hook")
        async def hook(request: Request) -> Response:
            body = await request.body()
            headers = {k.lower(): v for k, v in request.headers.items()}
            headers[":query"] = request.url.query
            with self._cond:
                self.requests.append((time.monotonic(), headers, body))
                self._cond.notify_all()
            forced = self.override(await request.json())
            if forced is not None:
                return Response(status_code=forced)
            try:
                self.adapter.verify(account=self.channel, headers=headers, body=body)
                result = self.adapter.parse(body=body)
            except SignatureInvalid as exc:
                return JSONResponse({"detail": exc.reason}, status_code=403)
            except MalformedPayload as exc:
                return JSONResponse({"detail": exc.reason}, status_code=400)
            with self._cond:
                self.events.extend(result.events)
                if result.ignored_reason:
                    self.ignored.append(result.ignored_reason)
                self._cond.notify_all()
            reply = self.adapter.immediate_reply(account=self.channel, events=result.events)
            return JSONResponse(dict(reply)) if reply is not None else Response(status_code=200)

    def wait_for_events(self, count: int, timeout: float = 5.0) -> list[InboundEvent]:
        with self._cond:
            assert self._cond.wait_for(lambda: len(self.events) >= count, timeout), self.events
            return list(self.events)

    def wait_for_requests(self, count: int, timeout: float = 5.0) -> list[tuple[float, dict[str, str], bytes]]:
        with self._cond:
            assert self._cond.wait_for(lambda: len(self.requests) >= count, timeout), self.requests
            return list(self.requests)
