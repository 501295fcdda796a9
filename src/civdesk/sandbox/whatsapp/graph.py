"""The Graph API paths of the Cloud API, as ``--api-base http://127.0.0.1:PORT`` stands in for graph.facebook.com.

Paths only match a version like ``v21.0`` followed by a numeric node id, so ``/v21.0/me/messages``
(the Messenger emulator's) never reaches these routes.
"""

from __future__ import annotations

import json
import secrets
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from starlette.convertors import Convertor, register_url_convertor
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response

from civdesk.sandbox.whatsapp.emulator import WhatsAppEmulator
from civdesk.sandbox.whatsapp.state import GraphApiError, JsonDict, SandboxError, invalid_param


class GraphVersion(Convertor[str]):
    regex = r"v[0-9]+\.[0-9]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


class GraphId(Convertor[str]):
    regex = r"[0-9]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


# Registered under names of our own; Starlette keeps convertors in one process-wide table.
register_url_convertor("wa_graph_version", GraphVersion())
register_url_convertor("wa_graph_id", GraphId())
_NODE = "/{version:wa_graph_version}/{node_id:wa_graph_id}"


def _token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip()
    return request.query_params.get("access_token")


def _error(exc: GraphApiError) -> JSONResponse:
    headers = None
    if exc.code == 190:
        headers = {"WWW-Authenticate": f'OAuth "Facebook Platform" "invalid_token" "{exc.message}"'}
    return JSONResponse(exc.body(secrets.token_urlsafe(16)), status_code=exc.status, headers=headers)


async def _json_body(request: Request) -> JsonDict:
    raw = await request.body()
    try:
        data = json.loads(raw) if raw.strip() else {}
    except ValueError:
        raise invalid_param("The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise invalid_param("The request body must be a JSON object.")
    return data


def graph_router(emulator: WhatsAppEmulator) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.post(_NODE + "/messages")
    async def messages(version: str, node_id: str, request: Request) -> Response:
        emulator.bind_loop()
        try:
            emulator.authenticate(_token(request), node_id)
            return JSONResponse(emulator.send_message(_token(request), node_id, await _json_body(request)))
        except GraphApiError as exc:
            return _error(exc)

    @router.post(_NODE + "/media")
    async def media(version: str, node_id: str, request: Request) -> Response:
        emulator.bind_loop()
        try:
            emulator.authenticate(_token(request), node_id)
            form = await _multipart(request)
            return JSONResponse(emulator.upload_media(_token(request), node_id, **form))
        except GraphApiError as exc:
            return _error(exc)

    @router.get(_NODE)
    async def node(version: str, node_id: str, request: Request) -> Response:
        emulator.bind_loop()
        try:
            return JSONResponse(emulator.get_node(_token(request), node_id, base_url=str(request.base_url)))
        except GraphApiError as exc:
            return _error(exc)

    @router.post(_NODE)
    async def update_node(version: str, node_id: str, request: Request) -> Response:
        emulator.bind_loop()
        try:
            body = await _json_body(request)
            return JSONResponse(await emulator.configure_webhook(_token(request), node_id, body))
        except GraphApiError as exc:
            return _error(exc)

    @router.post(_NODE + "/subscribed_apps")
    async def subscribed_apps(version: str, node_id: str, request: Request) -> Response:
        try:
            return JSONResponse(emulator.subscribe_app(_token(request), node_id))
        except GraphApiError as exc:
            return _error(exc)

    @router.get("/whatsapp_business/attachments/")
    async def attachment(request: Request, mid: str = "", ext: str = "",
                         digest: str = Query(default="", alias="hash")) -> Response:
        try:
            media = emulator.download(_token(request), mid=mid, ext=ext, signature=digest)
        except GraphApiError as exc:
            return _error(exc)
        except SandboxError as exc:
            return JSONResponse({"error": {"message": str(exc)}}, status_code=exc.status)
        # RFC 6266/5987: a Ukrainian file name does not fit a latin-1 header as it is.
        headers = {"Content-Disposition": f"attachment; filename*=UTF-8''{quote(media.filename or mid)}"}
        return Response(media.data, media_type=media.mime_type, headers=headers)

    return router


async def _multipart(request: Request) -> dict[str, Any]:
    """The upload's fields: the file (its bytes, type and name), ``type`` and ``messaging_product``."""
    if not request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        raise invalid_param("Media uploads are multipart/form-data.")
    try:
        async with request.form() as form:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise invalid_param("The parameter file is required (multipart/form-data).")
            return {"data": await upload.read(), "mime_type": upload.content_type or "application/octet-stream",
                    "filename": upload.filename, "declared_type": _text(form.get("type")),
                    "product": _text(form.get("messaging_product"))}
    except HTTPException:  # Starlette's answer to a malformed multipart body
        raise invalid_param("The multipart body could not be parsed.") from None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None
