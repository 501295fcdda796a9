"""The Graph API paths the Messenger Platform uses, over HTTP: ``/{version}/me/…`` with Meta's answers.

Parameters may come in the query string, a JSON body, an urlencoded form or multipart (file uploads go
as ``filedata`` with ``recipient`` and ``message`` as JSON strings). The token may be ``access_token``
anywhere among them or an ``Authorization: Bearer``/``OAuth`` header, as Graph accepts.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, quote

from fastapi import APIRouter, Request
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response

from civdesk.sandbox.messenger.citizen import Upload
from civdesk.sandbox.messenger.emulator import MessengerEmulator
from civdesk.sandbox.messenger.state import GraphApiError, JsonDict, SandboxError

Action = Callable[[str, JsonDict, Upload | None], JsonDict]


def graph_router(emulator: MessengerEmulator) -> APIRouter:
    """Literal ``me`` paths, so that the WhatsApp emulator's ``/{version}/{phone_number_id}/…`` stays its own."""
    router = APIRouter(include_in_schema=False)

    @router.post("/{version}/me/messages")
    async def send(version: str, request: Request) -> Response:
        return await _call(emulator, version, "messages", request, emulator.send)

    @router.post("/{version}/me/message_attachments")
    async def upload(version: str, request: Request) -> Response:
        return await _call(emulator, version, "message_attachments", request, emulator.upload_attachment)

    @router.get("/{version}/me")
    async def me(version: str, request: Request) -> Response:
        def act(page: str, params: JsonDict, _: Upload | None) -> JsonDict:
            return emulator.me(page, params.get("fields"))
        return await _call(emulator, version, "me", request, act)

    @router.api_route("/{version}/me/subscribed_apps", methods=["GET", "POST", "DELETE"])
    async def subscribed_apps(version: str, request: Request) -> Response:
        def act(page: str, params: JsonDict, _: Upload | None) -> JsonDict:
            if request.method == "POST":
                fields = params.get("subscribed_fields")
                return emulator.subscribe_app(page, ",".join(fields) if isinstance(fields, list) else fields)
            if request.method == "DELETE":
                return emulator.unsubscribe_app(page)
            return emulator.subscribed_apps(page)
        return await _call(emulator, version, "subscribed_apps", request, act)

    @router.api_route("/{version}/me/messenger_profile", methods=["GET", "POST"])
    async def messenger_profile(version: str, request: Request) -> Response:
        def act(page: str, params: JsonDict, _: Upload | None) -> JsonDict:
            if request.method == "POST":
                return emulator.set_profile(page, params)
            return emulator.profile(page, params.get("fields"))
        return await _call(emulator, version, "messenger_profile", request, act)

    @router.get("/sandbox/messenger/cdn/{key}/{name}")
    def cdn(key: str, name: str) -> Response:
        # Stands in for Meta's CDN: attachment URLs are fetched without any token.
        try:
            file_name, mime, data = emulator.cdn_file(key)
        except SandboxError:
            return Response(status_code=404)
        disposition = f"inline; filename*=UTF-8''{quote(file_name)}"
        return Response(data, media_type=mime, headers={"Content-Disposition": disposition})

    return router


async def _call(emulator: MessengerEmulator, version: str, endpoint: str, request: Request, action: Action) -> Response:
    emulator.bind_loop()
    emulator.learn_public_url(str(request.base_url))
    try:
        params, upload = await _read(request)
        page_id = emulator.authenticate(version=version, endpoint=endpoint, token=_token(request, params),
                                        proof=_str(params.get("appsecret_proof")))
        result = action(page_id, params, upload)
    except GraphApiError as exc:
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)
    return JSONResponse(result)


async def _read(request: Request) -> tuple[JsonDict, Upload | None]:
    params: JsonDict = dict(request.query_params)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    upload: Upload | None = None
    if content_type == "application/json":
        raw = await request.body()
        if raw.strip():
            try:
                data = json.loads(raw)
            except ValueError:
                raise GraphApiError(400, 100, "(#100) The request body is not valid JSON") from None
            if not isinstance(data, dict):
                raise GraphApiError(400, 100, "(#100) The request body must be a JSON object")
            params.update(data)
    elif content_type == "application/x-www-form-urlencoded":
        params.update(parse_qsl((await request.body()).decode("utf-8", errors="replace"), keep_blank_values=True))
    elif content_type == "multipart/form-data":
        try:
            async with request.form(max_part_size=1024 * 1024) as form:
                for key, value in form.multi_items():
                    if isinstance(value, str):
                        params[key] = value
                    elif key == "filedata":
                        upload = (value.filename or "file", value.content_type or "application/octet-stream",
                                  await value.read())
        except HTTPException:  # Starlette's answer to a malformed multipart body
            raise GraphApiError(400, 100, "(#100) The multipart body could not be parsed") from None
    return params, upload


def _token(request: Request, params: JsonDict) -> str | None:
    token = _str(params.get("access_token"))
    if token:
        return token
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() or None if scheme.lower() in ("bearer", "oauth") else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None
