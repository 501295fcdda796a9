"""The emulator's router: the Graph API, a JSON control API for tests and the citizen page, and the page."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi import APIRouter, File, Form, HTTPException, Query, UploadFile
from pydantic import BaseModel, Field
from starlette.responses import FileResponse, Response

from civdesk.sandbox.messenger.emulator import MessengerEmulator
from civdesk.sandbox.messenger.graph import graph_router
from civdesk.sandbox.messenger.state import ENDPOINTS, ERRORS, MAX_TEXT, PageSpec, SandboxError

JsonDict = dict[str, Any]
WEB_DIR = Path(__file__).parent / "web"
_STATIC = {"messenger.js": "text/javascript", "messenger.css": "text/css"}
# The page loads only its own files and talks only to this server.
_PAGE_HEADERS = {"Content-Security-Policy": "default-src 'self'; img-src 'self' blob:; frame-ancestors 'none'",
                 "X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"}


class PageIn(BaseModel):
    page_id: str = Field(pattern=r"^[0-9]{1,20}$")
    name: str = Field(min_length=1, max_length=100)
    token: str = Field(min_length=8, max_length=512)
    app_secret: str = Field(min_length=8, max_length=128)
    app_id: str = Field(default="1000000000000001", pattern=r"^[0-9]{1,20}$")
    require_appsecret_proof: bool = True
    subscribed: bool = False


class WebhookIn(BaseModel):
    url: str = Field(min_length=8, max_length=2000)
    verify_token: str = Field(min_length=1, max_length=256)
    verify: bool = True


class MessageIn(BaseModel):
    text: str = Field(min_length=1, max_length=MAX_TEXT)
    name: str | None = Field(default=None, min_length=1, max_length=64)


class StartIn(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=64)


class PressIn(BaseModel):
    payload: str = Field(min_length=1, max_length=1000)


class SilenceIn(BaseModel):
    hours: float = Field(ge=0, le=24 * 365)


class FailNextIn(BaseModel):
    error: str | None = None
    endpoint: str = "messages"
    times: int = Field(default=1, ge=1, le=1000)
    status: int | None = Field(default=None, ge=400, le=599)
    code: int | None = None
    subcode: int | None = None
    message: str | None = Field(default=None, max_length=512)
    regain_minutes: int | None = Field(default=None, ge=0, le=1440)


class TimesIn(BaseModel):
    times: int = Field(default=1, ge=1, le=1000)


@contextmanager
def _as_http() -> Iterator[None]:
    try:
        yield
    except SandboxError as exc:
        raise HTTPException(status_code=exc.status, detail=str(exc)) from exc


def control_router(emulator: MessengerEmulator) -> APIRouter:
    """Everything a person (through the page) or a test in another process does; async so that the webhook
    pusher is bound to the serving loop even when nothing has called the Graph API yet."""
    router = APIRouter(prefix="/sandbox/api/messenger", tags=["sandbox: messenger"])
    citizen = "/pages/{page_id}/citizens/{psid}"

    @router.get("/pages")
    async def list_pages() -> JsonDict:
        return {"pages": emulator.pages()}

    @router.post("/pages", status_code=201)
    async def add_page(body: PageIn) -> JsonDict:
        with _as_http():
            emulator.add_page(PageSpec(**body.model_dump()))
        return {"ok": True}

    @router.get("/errors")
    async def errors() -> JsonDict:
        return {"endpoints": list(ENDPOINTS), "errors": {name: vars(f) for name, f in ERRORS.items()}}

    @router.post("/pages/{page_id}/webhook")
    async def set_webhook(page_id: str, body: WebhookIn) -> JsonDict:
        emulator.bind_loop()
        with _as_http():
            # The challenge GET blocks; it may even go to this very server, so it must leave the loop.
            await asyncio.to_thread(emulator.set_webhook, page_id=page_id, url=body.url,
                                    verify_token=body.verify_token, verify=body.verify)
        return {"ok": True}

    @router.post(citizen + "/messages")
    async def says(page_id: str, psid: str, body: MessageIn) -> JsonDict:
        emulator.bind_loop()
        with _as_http():
            return emulator.citizen_says(page_id=page_id, psid=psid, text=body.text, name=body.name)

    @router.post(citizen + "/files")
    async def sends_file(page_id: str, psid: str, file: UploadFile = File(...),
                         public_url: str | None = Form(default=None)) -> JsonDict:
        emulator.bind_loop()
        if public_url:
            emulator.learn_public_url(public_url)
        data = await file.read()
        with _as_http():
            return emulator.citizen_sends_file(page_id=page_id, psid=psid, data=data, name=file.filename or "file",
                                               mime_type=file.content_type or "application/octet-stream")

    @router.post(citizen + "/press")
    async def presses(page_id: str, psid: str, body: PressIn) -> JsonDict:
        emulator.bind_loop()
        with _as_http():
            return emulator.citizen_presses(page_id=page_id, psid=psid, payload=body.payload)

    @router.post(citizen + "/start")
    async def gets_started(page_id: str, psid: str, body: StartIn) -> JsonDict:
        emulator.bind_loop()
        with _as_http():
            return emulator.citizen_gets_started(page_id=page_id, psid=psid, name=body.name)

    @router.post(citizen + "/read")
    async def reads(page_id: str, psid: str) -> JsonDict:
        emulator.bind_loop()
        with _as_http():
            return emulator.citizen_reads(page_id=page_id, psid=psid)

    @router.post(citizen + "/block")
    async def blocks(page_id: str, psid: str) -> JsonDict:
        with _as_http():
            emulator.citizen_blocks(page_id=page_id, psid=psid)
        return {"ok": True}

    @router.post(citizen + "/unblock")
    async def unblocks(page_id: str, psid: str) -> JsonDict:
        with _as_http():
            emulator.citizen_unblocks(page_id=page_id, psid=psid)
        return {"ok": True}

    @router.post(citizen + "/silence")
    async def falls_silent(page_id: str, psid: str, body: SilenceIn) -> JsonDict:
        with _as_http():
            emulator.citizen_falls_silent(page_id=page_id, psid=psid, hours=body.hours)
        return {"ok": True}

    @router.get(citizen + "/history")
    async def history(page_id: str, psid: str, after: int = Query(default=0, ge=0)) -> JsonDict:
        with _as_http():
            return emulator.history(page_id=page_id, psid=psid, after=after)

    @router.get("/pages/{page_id}/sent")
    async def sent(page_id: str, psid: str | None = None) -> JsonDict:
        with _as_http():
            return {"sent": emulator.sent(page_id=page_id, psid=psid)}

    @router.get("/pages/{page_id}/pushes")
    async def pushes(page_id: str) -> JsonDict:
        with _as_http():
            return {"pushes": emulator.pushes(page_id=page_id)}

    @router.post("/pages/{page_id}/fail-next")
    async def fail_next(page_id: str, body: FailNextIn) -> JsonDict:
        with _as_http():
            emulator.fail_next(page_id=page_id, **body.model_dump())
        return {"ok": True}

    @router.post("/pages/{page_id}/duplicate-next")
    async def duplicate_next(page_id: str, body: TimesIn) -> JsonDict:
        with _as_http():
            emulator.duplicate_next_push(page_id=page_id, times=body.times)
        return {"ok": True}

    return router


def page_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/sandbox/messenger/")
    def citizen_page() -> FileResponse:
        return FileResponse(WEB_DIR / "index.html", media_type="text/html", headers=_PAGE_HEADERS)

    @router.get("/sandbox/messenger/static/{name}")
    def static(name: str) -> Response:
        if name not in _STATIC:
            return Response(status_code=404)
        return FileResponse(WEB_DIR / name, media_type=_STATIC[name], headers=_PAGE_HEADERS)

    return router


def create_router(emulator: MessengerEmulator) -> APIRouter:
    """All of the emulator. Include it BEFORE the WhatsApp emulator's router, so ``/{version}/me/…`` wins; and
    call ``emulator.start()``/``stop()`` in the app lifespan so webhook pushes run on the serving loop."""
    router = APIRouter()
    router.include_router(graph_router(emulator))
    router.include_router(control_router(emulator))
    router.include_router(page_router())
    return router
