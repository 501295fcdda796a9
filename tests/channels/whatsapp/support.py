"""Shared by the WhatsApp adapter and emulator tests: the emulator as an app, and a webhook receiver
that answers as civdesk does (the adapter's handshake, signature check and parser)."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import PlainTextResponse

from civdesk.channels.base import ChannelAccount, InboundEvent, MalformedPayload, SignatureInvalid
from civdesk.channels.whatsapp import WhatsAppAdapter
from civdesk.sandbox.whatsapp import NumberSpec, WhatsAppEmulator, create_router

PHONE_ID = "106540352242922"
TOKEN = "EAAG-sandbox-token-1"
APP_SECRET = "test-app-secret"
VERIFY_TOKEN = "verify-me-1"
CITIZEN = "380501234567"
NUMBER = NumberSpec(phone_number_id=PHONE_ID, display_phone_number="15550783881", verified_name="Держслужба тест",
                    token=TOKEN, app_secret=APP_SECRET)


def make_emulator(**options: Any) -> WhatsAppEmulator:
    return WhatsAppEmulator(numbers=[NUMBER], **{"retry_base_delay": 0.05, "retry_max_delay": 0.2, "id_base": 7,
                                                 **options})


def emulator_app(emulator: WhatsAppEmulator) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await emulator.start()  # webhooks are pushed from the serving loop
        try:
            yield
        finally:
            await emulator.stop()

    app = FastAPI(lifespan=lifespan)
    app.include_router(create_router(emulator))
    return app


def account(api_base: str, **config: Any) -> ChannelAccount:
    return ChannelAccount(id=1, config={"api_base": api_base, "api_version": "v21.0", "phone_number_id": PHONE_ID,
                                        **config},
                          secrets={"token": TOKEN, "app_secret": APP_SECRET, "verify_token": VERIFY_TOKEN})


class Receiver:
    """A civdesk-like webhook endpoint: GET handshake, POST verified and parsed, answers what ``decide`` says."""

    def __init__(self, decide: Callable[[bytes], int] | None = None) -> None:
        self.adapter = WhatsAppAdapter()
        self.account = account("http://unused")
        self.decide = decide or (lambda body: 200)
        self.bodies: list[bytes] = []
        self.headers: list[dict[str, str]] = []
        self.events: list[InboundEvent] = []
        self.refused = 0
        self._cond = threading.Condition()
        self.app = FastAPI()

        @self.app.get("/hook")
        async def handshake(request: Request) -> Response:
            try:
                return PlainTextResponse(self.adapter.handshake(account=self.account,
                                                                params=dict(request.query_params)))
            except SignatureInvalid:
                return PlainTextResponse("Forbidden", status_code=403)

        @self.app.post("/hook")
        async def hook(request: Request) -> Response:
            body = await request.body()
            headers = {k.lower(): v for k, v in request.headers.items()}
            try:
                self.adapter.verify(account=self.account, headers=headers, body=body)
                events = self.adapter.parse(body=body).events
            except (SignatureInvalid, MalformedPayload):
                with self._cond:
                    self.refused += 1
                return Response(status_code=401)
            with self._cond:
                self.bodies.append(body)
                self.headers.append(headers)
                self.events.extend(events)
                self._cond.notify_all()
            return Response(status_code=self.decide(body))

    def wait_for(self, count: int, timeout: float = 5.0) -> list[bytes]:
        with self._cond:
            assert self._cond.wait_for(lambda: len(self.bodies) >= count, timeout), self.bodies
            return list(self.bodies)

    def wait_for_events(self, count: int, timeout: float = 5.0) -> list[InboundEvent]:
        with self._cond:
            assert self._cond.wait_for(lambda: len(self.events) >= count, timeout), self.events
            return list(self.events)
