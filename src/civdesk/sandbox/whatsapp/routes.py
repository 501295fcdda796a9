"""``create_router(emulator)``: the Graph API, a JSON control API for tests and the page, and the citizen page."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field
from starlette.responses import FileResponse

from civdesk.sandbox.whatsapp.emulator import WhatsAppEmulator
from civdesk.sandbox.whatsapp.graph import graph_router
from civdesk.sandbox.whatsapp.state import NumberSpec, SandboxError

JsonDict = dict[str, Any]
WEB_DIR = Path(__file__).parent / "web"
_PAGE_FILES = {"whatsapp.js": "text/javascript", "whatsapp.css": "text/css"}
# The page loads only its own files and talks only to this server.
_PAGE_HEADERS = {"Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'",
                 "X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"}
_DIGITS = r"^[0-9]{1,20}$"


class NumberIn(BaseModel):
    phone_number_id: str = Field(pattern=_DIGITS)
    display_phone_number: str = Field(min_length=3, max_length=32)
    verified_name: str = Field(min_length=1, max_length=128)
    token: str = Field(min_length=8, max_length=512)
    app_secret: str = Field(min_length=8, max_length=256)
    waba_id: str = Field(default="102290129340398", pattern=_DIGITS)


class SubscribeIn(BaseModel):
    url: str = Field(min_length=8, max_length=2048)
    verify_token: str = Field(min_length=1, max_length=256)


class MessageIn(BaseModel):
    text: str = Field(min_length=1, max_length=4096)
    name: str | None = Field(default=None, min_length=1, max_length=64)


class MediaIn(BaseModel):
    kind: str = Field(pattern=r"^(image|video|audio|document|sticker)$")
    mime_type: str = Field(min_length=3, max_length=128)
    data_base64: str = Field(min_length=1, max_length=8_000_000)
    filename: str | None = Field(default=None, max_length=240)
    caption: str | None = Field(default=None, max_length=1024)
    voice: bool = False


class LocationIn(BaseModel):
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    place: str | None = Field(default=None, max_length=256)
    address: str | None = Field(default=None, max_length=512)


class PressIn(BaseModel):
    message_id: str = Field(min_length=1, max_length=256)
    reply_id: str = Field(min_length=1, max_length=256)


class ReadIn(BaseModel):
    message_id: str = Field(min_length=1, max_length=256)


class MarketingIn(BaseModel):
    stop: bool


class FailNextIn(BaseModel):
    code: int
    times: int = Field(default=1, ge=1, le=1000)
    endpoint: str = "messages"


class DuplicateIn(BaseModel):
    times: int = Field(default=1, ge=1, le=1000)


class ClockIn(BaseModel):
    advance_seconds: float = Field(gt=0, le=365 * 24 * 3600)


@contextmanager
def _as_http() -> Iterator[None]:
    try:
        yield
    except SandboxError as exc:
        raise HTTPException(status_code=exc.status, detail=str(exc)) from exc


def control_router(emulator: WhatsAppEmulator) -> APIRouter:
    router = APIRouter(prefix="/sandbox/api/whatsapp", tags=["sandbox: whatsapp"])
    user_path = "/{phone_number_id}/users/{wa_id}"

    @router.get("/numbers")
    def list_numbers() -> JsonDict:
        return {"numbers": emulator.numbers()}

    @router.post("/numbers", status_code=201)
    def add_number(body: NumberIn) -> JsonDict:
        with _as_http():
            emulator.add_number(NumberSpec(**body.model_dump()))
        return {"ok": True}

    @router.post("/{phone_number_id}/subscribe")
    async def subscribe(phone_number_id: str, body: SubscribeIn) -> JsonDict:
        with _as_http():
            await emulator.asubscribe(phone_number_id=phone_number_id, url=body.url, verify_token=body.verify_token)
        return {"ok": True}

    @router.post(user_path + "/messages")
    def citizen_says(phone_number_id: str, wa_id: str, body: MessageIn) -> JsonDict:
        with _as_http():
            return emulator.citizen_says(phone_number_id=phone_number_id, wa_id=wa_id, text=body.text,
                                         name=body.name)

    @router.post(user_path + "/media")
    def citizen_sends_media(phone_number_id: str, wa_id: str, body: MediaIn) -> JsonDict:
        try:
            data = base64.b64decode(body.data_base64, validate=True)
        except (binascii.Error, ValueError):
            raise HTTPException(status_code=422, detail="data_base64 is not base64") from None
        with _as_http():
            return emulator.citizen_sends_media(phone_number_id=phone_number_id, wa_id=wa_id, kind=body.kind,
                                                data=data, mime_type=body.mime_type, filename=body.filename,
                                                caption=body.caption, voice=body.voice)

    @router.post(user_path + "/location")
    def citizen_sends_location(phone_number_id: str, wa_id: str, body: LocationIn) -> JsonDict:
        with _as_http():
            return emulator.citizen_sends_location(phone_number_id=phone_number_id, wa_id=wa_id,
                                                   latitude=body.latitude, longitude=body.longitude,
                                                   place=body.place, address=body.address)

    @router.post(user_path + "/press")
    def citizen_presses(phone_number_id: str, wa_id: str, body: PressIn) -> JsonDict:
        with _as_http():
            return emulator.citizen_presses(phone_number_id=phone_number_id, wa_id=wa_id,
                                            message_id=body.message_id, reply_id=body.reply_id)

    @router.post(user_path + "/read")
    def citizen_reads(phone_number_id: str, wa_id: str, body: ReadIn) -> JsonDict:
        with _as_http():
            return emulator.citizen_reads(phone_number_id=phone_number_id, wa_id=wa_id, message_id=body.message_id)

    @router.post(user_path + "/marketing")
    def citizen_sets_marketing(phone_number_id: str, wa_id: str, body: MarketingIn) -> JsonDict:
        with _as_http():
            return emulator.citizen_sets_marketing(phone_number_id=phone_number_id, wa_id=wa_id, stop=body.stop)

    @router.get(user_path + "/history")
    def history(phone_number_id: str, wa_id: str, after: int = Query(default=0, ge=0)) -> JsonDict:
        with _as_http():
            return emulator.history(phone_number_id=phone_number_id, wa_id=wa_id, after=after)

    @router.get("/{phone_number_id}/sent")
    def sent(phone_number_id: str, to: str | None = None) -> JsonDict:
        with _as_http():
            return {"sent": emulator.sent(phone_number_id=phone_number_id, to=to)}

    @router.get("/{phone_number_id}/deliveries")
    def deliveries(phone_number_id: str) -> JsonDict:
        with _as_http():
            return {"deliveries": emulator.deliveries(phone_number_id=phone_number_id)}

    @router.post("/{phone_number_id}/fail-next")
    def fail_next(phone_number_id: str, body: FailNextIn) -> JsonDict:
        with _as_http():
            emulator.fail_next(phone_number_id=phone_number_id, code=body.code, times=body.times,
                               endpoint=body.endpoint)
        return {"ok": True}

    @router.post("/{phone_number_id}/duplicate-next")
    def duplicate_next(phone_number_id: str, body: DuplicateIn) -> JsonDict:
        with _as_http():
            emulator.duplicate_next_push(phone_number_id=phone_number_id, times=body.times)
        return {"ok": True}

    @router.post("/clock")
    def advance_clock(body: ClockIn) -> JsonDict:
        emulator.advance_clock(body.advance_seconds)
        return {"ok": True}

    return router


def page_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/sandbox/whatsapp/")
    def page() -> FileResponse:
        return FileResponse(WEB_DIR / "index.html", media_type="text/html", headers=_PAGE_HEADERS)

    @router.get("/sandbox/whatsapp/static/{name}")
    def asset(name: str) -> FileResponse:
        media_type = _PAGE_FILES.get(name)
        if media_type is None:
            raise HTTPException(status_code=404, detail="no such file")
        return FileResponse(WEB_DIR / name, media_type=media_type, headers=_PAGE_HEADERS)

    return router


def create_router(emulator: WhatsAppEmulator) -> APIRouter:
    """Everything the WhatsApp emulator serves. The app's lifespan must ``await emulator.start()``
    (webhooks are pushed from the serving loop) and ``await emulator.stop()``."""
    router = APIRouter()
    router.include_router(graph_router(emulator))
    router.include_router(control_router(emulator))
    router.include_router(page_router())
    return router
