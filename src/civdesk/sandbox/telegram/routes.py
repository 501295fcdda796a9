"""HTTP routes: the Bot API itself and a JSON control API for the citizen page and other processes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, File, Form, HTTPException, Query, Request, UploadFile
from pydantic import BaseModel, Field
from starlette.responses import JSONResponse, Response

from civdesk.sandbox.telegram import botapi
from civdesk.sandbox.telegram.emulator import SandboxError, TelegramEmulator
from civdesk.sandbox.telegram.media import MAX_CITIZEN_BYTES

JsonDict = dict[str, Any]


class BotIn(BaseModel):
    token: str = Field(min_length=3, max_length=120)
    username: str = Field(min_length=1, max_length=64)
    first_name: str = Field(min_length=1, max_length=64)


class MessageIn(BaseModel):
    text: str = Field(min_length=1, max_length=4096)
    first_name: str | None = Field(default=None, min_length=1, max_length=64)
    last_name: str | None = Field(default=None, max_length=64)
    username: str | None = Field(default=None, max_length=32)


class PressIn(BaseModel):
    callback_data: str = Field(min_length=1, max_length=64)
    message_id: int


class FailNextIn(BaseModel):
    method: str = Field(min_length=1, max_length=64)
    status: int = Field(ge=400, le=599)
    description: str = Field(min_length=1, max_length=512)
    retry_after: int | None = Field(default=None, ge=1, le=3600)
    times: int = Field(default=1, ge=1, le=1000)


@contextmanager
def _as_http() -> Iterator[None]:
    try:
        yield
    except SandboxError as exc:
        raise HTTPException(status_code=exc.status, detail=str(exc)) from exc


def bot_api_router(emulator: TelegramEmulator) -> APIRouter:
    router = APIRouter()

    @router.api_route("/bot{token}/{method}", methods=["GET", "POST"], include_in_schema=False)
    async def bot_api(token: str, method: str, request: Request) -> JSONResponse:
        return await botapi.handle(emulator, token, method, request)

    @router.get("/file/bot{token}/{file_path:path}", include_in_schema=False)
    async def file_download(token: str, file_path: str) -> Response:
        return await botapi.download(emulator, token, file_path)

    return router


def control_router(emulator: TelegramEmulator) -> APIRouter:
    """Everything a person (through the page) or a test in another process does as the citizen."""
    router = APIRouter(prefix="/sandbox/api/telegram", tags=["sandbox: telegram"])

    @router.get("/bots")
    def list_bots() -> JsonDict:
        return {"bots": emulator.bots()}

    @router.post("/bots", status_code=201)
    def add_bot(body: BotIn) -> JsonDict:
        with _as_http():
            emulator.add_bot(token=body.token, username=body.username, first_name=body.first_name)
        return {"ok": True}

    @router.post("/{token}/chats/{chat_id}/messages")
    def citizen_says(token: str, chat_id: int, body: MessageIn) -> JsonDict:
        with _as_http():
            return emulator.citizen_says(token=token, chat_id=chat_id, text=body.text,
                                         first_name=body.first_name, last_name=body.last_name,
                                         username=body.username)

    @router.post("/{token}/chats/{chat_id}/files")
    async def citizen_sends_file(
        token: str,
        chat_id: int,
        file: Annotated[UploadFile, File(description="a photo (JPEG) or a document")],
        caption: Annotated[str | None, Form(max_length=1024)] = None,
        first_name: Annotated[str | None, Form(min_length=1, max_length=64)] = None,
        as_photo: Annotated[bool | None, Form(description="default: JPEGs as photos")] = None,
    ) -> JsonDict:
        data = await file.read(MAX_CITIZEN_BYTES + 1)
        with _as_http():
            return emulator.citizen_sends_file(token, chat_id, data, file.filename or "file",
                                               file.content_type or "", caption or None, as_photo=as_photo,
                                               first_name=first_name)

    @router.get("/{token}/files/{file_id}")
    def file_content(token: str, file_id: str) -> Response:
        """A file of this bot's chats, for the citizen page: always a download, never rendered as a page."""
        with _as_http():
            stored = emulator.file_content(token, file_id=file_id)
        name = stored.name or stored.file_path.rsplit("/", 1)[-1]
        return Response(stored.data, media_type=stored.mime_type, headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name, safe='')}",
            "X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox"})

    @router.post("/{token}/chats/{chat_id}/press")
    def citizen_presses(token: str, chat_id: int, body: PressIn) -> JsonDict:
        with _as_http():
            return emulator.citizen_presses(token=token, chat_id=chat_id, callback_data=body.callback_data,
                                            message_id=body.message_id)

    @router.post("/{token}/chats/{chat_id}/block")
    def citizen_blocks(token: str, chat_id: int) -> JsonDict:
        with _as_http():
            return emulator.citizen_blocks_bot(token=token, chat_id=chat_id)

    @router.post("/{token}/chats/{chat_id}/unblock")
    def citizen_unblocks(token: str, chat_id: int) -> JsonDict:
        with _as_http():
            return emulator.citizen_unblocks_bot(token=token, chat_id=chat_id)

    @router.get("/{token}/chats/{chat_id}/history")
    def history(token: str, chat_id: int, after: int = Query(default=0, ge=0)) -> JsonDict:
        with _as_http():
            return emulator.history(token=token, chat_id=chat_id, after=after)

    @router.get("/{token}/sent")
    def sent(token: str, chat_id: int | None = None) -> JsonDict:
        with _as_http():
            return {"sent": emulator.sent(token=token, chat_id=chat_id)}

    @router.post("/{token}/fail-next")
    def fail_next(token: str, body: FailNextIn) -> JsonDict:
        with _as_http():
            emulator.fail_next(token=token, method=body.method, status=body.status,
                               description=body.description, retry_after=body.retry_after, times=body.times)
        return {"ok": True}

    return router
