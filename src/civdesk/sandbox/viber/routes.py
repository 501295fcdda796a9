"""HTTP: Viber's REST API at /pa/<endpoint>, a JSON control API for tests and the citizen page, media
downloads, and the page itself.

Viber answers application errors with HTTP 200 and a non-zero `status`; so does this. The auth token
comes in the X-Viber-Auth-Token header, or as `auth_token` in the body (how the official SDKs send it).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, HTTPException, Query, Request
from pydantic import BaseModel, Field
from starlette.responses import FileResponse, JSONResponse, Response

from civdesk.sandbox.viber.core import CHAT_HOSTNAME
from civdesk.sandbox.viber.emulator import SandboxError, ViberApiError, ViberEmulator
from civdesk.sandbox.viber.state import ENDPOINTS, JsonDict

WEB_DIR = Path(__file__).parent / "web"
_STATIC = {"viber.js": "text/javascript", "viber.css": "text/css"}
# The page loads only its own files and talks only to this server.
_PAGE_HEADERS = {"Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'",
                 "X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"}
Handler = Callable[[ViberEmulator, str, JsonDict], Awaitable[JsonDict]]


async def _set_webhook(emulator: ViberEmulator, token: str, body: JsonDict) -> JsonDict:
    url, types = body.get("url"), body.get("event_types")
    if not isinstance(url, str):
        raise ViberApiError(4, "url is required")
    if types is not None and (not isinstance(types, list) or not all(isinstance(t, str) for t in types)):
        raise ViberApiError(3, "event_types must be an array of strings")
    return await emulator.set_webhook(token, url=url, event_types=types, send_name=body.get("send_name") is True,
                                      send_photo=body.get("send_photo") is True)


async def _send_message(emulator: ViberEmulator, token: str, body: JsonDict) -> JsonDict:
    return emulator.send_message(token, {k: v for k, v in body.items() if k != "auth_token"})


async def _get_account_info(emulator: ViberEmulator, token: str, body: JsonDict) -> JsonDict:
    return emulator.get_account_info(token)


async def _get_user_details(emulator: ViberEmulator, token: str, body: JsonDict) -> JsonDict:
    user_id = body.get("id")
    if not isinstance(user_id, str) or not user_id:
        raise ViberApiError(4, "id is required")
    return emulator.get_user_details(token, user_id)


_HANDLERS: dict[str, Handler] = {"set_webhook": _set_webhook, "send_message": _send_message,
                                 "get_account_info": _get_account_info, "get_user_details": _get_user_details}
assert set(_HANDLERS) == set(ENDPOINTS)


async def _rest_api(emulator: ViberEmulator, endpoint: str, request: Request) -> Response:
    emulator.bind_loop()
    emulator.note_base_url(str(request.base_url))
    if endpoint not in _HANDLERS:
        return JSONResponse({"status": 3, "status_message": "badData: unknown endpoint"}, status_code=404)
    raw = await request.body()
    try:
        body: Any = json.loads(raw) if raw.strip() else {}
    except (ValueError, UnicodeDecodeError):
        body = None
    token = request.headers.get("x-viber-auth-token") or (body.get("auth_token") if isinstance(body, dict) else None)
    try:
        emulator.begin_call(token if isinstance(token, str) else None, endpoint)
        if not isinstance(body, dict):
            raise ViberApiError(3, "badData")
        answer = await _HANDLERS[endpoint](emulator, str(token), body)
    except ViberApiError as exc:
        return JSONResponse(exc.body(CHAT_HOSTNAME), status_code=exc.http_status)
    return JSONResponse(answer)


class AccountIn(BaseModel):
    token: str = Field(min_length=10, max_length=100)
    name: str = Field(min_length=1, max_length=28)
    uri: str | None = Field(default=None, max_length=64)


class CitizenIn(BaseModel):
    user_id: str = Field(min_length=4, max_length=64)
    name: str | None = Field(default=None, min_length=1, max_length=64)


class OpenIn(CitizenIn):
    context: str | None = Field(default=None, max_length=256)


class TextIn(CitizenIn):
    text: str = Field(min_length=1, max_length=7000)


class PressIn(CitizenIn):
    button: str = Field(min_length=1, max_length=4000)


class MediaIn(CitizenIn):
    kind: str = Field(pattern="^(picture|video|file)$")
    file_name: str = Field(min_length=1, max_length=256)
    mime_type: str = Field(min_length=3, max_length=128)
    data_base64: str = Field(min_length=1, max_length=14_000_000)
    text: str = Field(default="", max_length=512)


class LocationIn(CitizenIn):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class ContactIn(CitizenIn):
    contact_name: str = Field(min_length=1, max_length=64)
    phone_number: str = Field(min_length=3, max_length=32)


class FailNextIn(BaseModel):
    endpoint: str = Field(min_length=1, max_length=64)
    status: int = Field(ge=1, le=999)
    status_message: str | None = Field(default=None, max_length=256)
    http_status: int = Field(default=200, ge=200, le=599)
    times: int = Field(default=1, ge=1, le=1000)


class FailDeliveryIn(BaseModel):
    message_token: int
    desc: str = Field(min_length=1, max_length=256)


@contextmanager
def _as_http() -> Iterator[None]:
    try:
        yield
    except SandboxError as exc:
        raise HTTPException(status_code=exc.status, detail=str(exc)) from exc


def create_router(emulator: ViberEmulator) -> APIRouter:
    """Everything of the Viber sandbox; including it in an app also starts and stops the webhook pusher."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await emulator.start()  # callbacks are pushed from the serving loop
        try:
            yield
        finally:
            await emulator.stop()

    router = APIRouter(lifespan=lifespan)

    @router.post("/pa/{endpoint}", include_in_schema=False)
    async def rest_api(endpoint: str, request: Request) -> Response:
        return await _rest_api(emulator, endpoint, request)

    @router.get("/sandbox/viber/media/{media_id}/{name}", include_in_schema=False)
    def media(media_id: str, name: str) -> Response:
        with _as_http():
            found = emulator.media(media_id)
        disposition = f"attachment; filename*=UTF-8''{quote(found.name, safe='')}"
        return Response(found.data, media_type=found.mime_type, headers={"Content-Disposition": disposition})

    @router.get("/sandbox/viber/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(WEB_DIR / "index.html", media_type="text/html", headers=_PAGE_HEADERS)

    @router.get("/sandbox/viber/static/{name}", include_in_schema=False)
    def static(name: str) -> FileResponse:
        if name not in _STATIC:
            raise HTTPException(status_code=404, detail="not found")
        return FileResponse(WEB_DIR / name, media_type=_STATIC[name], headers=_PAGE_HEADERS)

    router.include_router(_control_router(emulator))
    return router


def _control_router(emulator: ViberEmulator) -> APIRouter:
    """What a person (through the page) or a test in another process does as the citizen."""
    router = APIRouter(prefix="/sandbox/api/viber", tags=["sandbox: viber"])
    citizen = "/{token}/citizen"

    @router.get("/accounts")
    def list_accounts() -> JsonDict:
        return {"accounts": emulator.accounts()}

    @router.post("/accounts", status_code=201)
    def add_account(body: AccountIn) -> JsonDict:
        with _as_http():
            emulator.add_account(token=body.token, name=body.name, uri=body.uri)
        return {"ok": True}

    @router.post(citizen + "/open")
    def opens(token: str, body: OpenIn) -> JsonDict:
        with _as_http():
            return emulator.citizen_opens_chat(token=token, user_id=body.user_id, name=body.name,
                                               context=body.context)

    @router.post(citizen + "/subscribe")
    def subscribes(token: str, body: CitizenIn) -> JsonDict:
        with _as_http():
            return emulator.citizen_subscribes(token=token, user_id=body.user_id, name=body.name)

    @router.post(citizen + "/unsubscribe")
    def unsubscribes(token: str, body: CitizenIn) -> JsonDict:
        with _as_http():
            return emulator.citizen_unsubscribes(token=token, user_id=body.user_id)

    @router.post(citizen + "/message")
    def says(token: str, body: TextIn) -> JsonDict:
        with _as_http():
            return emulator.citizen_says(token=token, user_id=body.user_id, text=body.text, name=body.name)

    @router.post(citizen + "/press")
    def presses(token: str, body: PressIn) -> JsonDict:
        with _as_http():
            return emulator.citizen_presses(token=token, user_id=body.user_id, button=body.button)

    @router.post(citizen + "/media")
    def sends_media(token: str, body: MediaIn, request: Request) -> JsonDict:
        try:
            data = base64.b64decode(body.data_base64, validate=True)
        except (binascii.Error, ValueError):
            raise HTTPException(status_code=422, detail="data_base64 is not base64") from None
        with _as_http():
            emulator.note_base_url(str(request.base_url))
            return emulator.citizen_sends_media(token=token, user_id=body.user_id, kind=body.kind, data=data,
                                                name=body.file_name, mime_type=body.mime_type, text=body.text)

    @router.post(citizen + "/location")
    def shares_location(token: str, body: LocationIn) -> JsonDict:
        with _as_http():
            return emulator.citizen_shares_location(token=token, user_id=body.user_id, lat=body.lat, lon=body.lon)

    @router.post(citizen + "/contact")
    def shares_contact(token: str, body: ContactIn) -> JsonDict:
        with _as_http():
            return emulator.citizen_shares_contact(token=token, user_id=body.user_id, name=body.contact_name,
                                                   phone_number=body.phone_number)

    @router.post(citizen + "/read")
    def reads(token: str, body: CitizenIn) -> JsonDict:
        with _as_http():
            return {"seen": emulator.citizen_reads(token=token, user_id=body.user_id)}

    @router.get("/{token}/history")
    def history(token: str, user_id: str = Query(min_length=4, max_length=64),
                after: int = Query(default=0, ge=0)) -> JsonDict:
        with _as_http():
            return emulator.history(token=token, user_id=user_id, after=after)

    @router.get("/{token}/sent")
    def sent(token: str, user_id: str | None = None) -> JsonDict:
        with _as_http():
            return {"sent": emulator.sent(token=token, user_id=user_id)}

    @router.get("/{token}/webhook")
    def webhook(token: str) -> JsonDict:
        with _as_http():
            return emulator.webhook_info(token=token)

    @router.post("/{token}/fail-next")
    def fail_next(token: str, body: FailNextIn) -> JsonDict:
        with _as_http():
            emulator.fail_next(token=token, endpoint=body.endpoint, status=body.status,
                               status_message=body.status_message, http_status=body.http_status, times=body.times)
        return {"ok": True}

    @router.post("/{token}/fail-delivery")
    def fail_delivery(token: str, body: FailDeliveryIn) -> JsonDict:
        with _as_http():
            return emulator.fail_delivery(token=token, message_token=body.message_token, desc=body.desc)

    return router
