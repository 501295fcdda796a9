from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile, status
from fastapi.responses import Response

from civdesk.audit import service as audit_service
from civdesk.conversation import service as conversation_service
from civdesk.conversation.schemas import MessageRead
from civdesk.core.errors import InvalidInput, NotFound
from civdesk.deps import CurrentAgent, SessionDep
from civdesk.files.service import Files, kind_for
from civdesk.realtime import service as realtime_service

router = APIRouter(tags=["files"])
_READ_CHUNK = 1024 * 1024


def _files(request: Request) -> Files:
    files: Files = request.app.state.files
    return files


def _download(data: bytes, mime_type: str, name: str) -> Response:
    # Always a download, never rendered inline: a citizen's file must not run in an agent's browser.
    return Response(
        data,
        media_type=mime_type,
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{_quote(name)}",
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
            "Content-Security-Policy": "sandbox",
        },
    )


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="")


@router.get("/api/v1/messages/{message_id}/files/{index}")
async def download(message_id: int, index: int, request: Request, who: CurrentAgent, session: SessionDep) -> Response:
    """A file of a message, for agents of its agency only; every download is audited."""
    meta = await conversation_service.attachment(session=session, who=who, message_id=message_id, index=index)
    key = meta.get("stored_key")
    if not key:
        raise NotFound("the file has not been fetched yet", "файл ще не завантажено")
    data = _files(request).read(str(key))
    audit_service.record(
        session=session,
        action="file.download",
        subject_type="message",
        subject_id=message_id,
        agency_id=who.agency_id,
        actor_agent_id=who.agent_id,
        detail={"index": index, "name": meta.get("name")},
    )
    await session.commit()
    return _download(data, str(meta.get("mime_type") or "application/octet-stream"), str(meta.get("name") or "file"))


@router.get("/files/public/{token}", include_in_schema=False)
async def public_link(token: str, request: Request) -> Response:
    """Short-lived links for platforms that fetch media by URL (Viber, WhatsApp): signed, one hour."""
    files = _files(request)
    data = files.read(files.key_from_public_token(token))
    return Response(data, media_type="application/octet-stream", headers={"X-Content-Type-Options": "nosniff"})


@router.post(
    "/api/v1/conversations/{conversation_id}/attachments",
    response_model=MessageRead,
    status_code=status.HTTP_202_ACCEPTED,
)
async def send_file(
    conversation_id: int,
    request: Request,
    who: CurrentAgent,
    session: SessionDep,
    file: Annotated[UploadFile, File(description="the file to send to the citizen")],
    text: Annotated[str, Form(max_length=1024)] = "",
) -> MessageRead:
    """Sends a file (with an optional caption) to the citizen; checked for size and type first."""
    files = _files(request)
    data = await file.read(files.max_bytes + 1)
    if not data:
        raise InvalidInput("the file is empty", "файл порожній")
    stored = files.store(data=data, mime_type=file.content_type or "", name=file.filename)
    message = await conversation_service.reply(
        session=session,
        who=who,
        conversation_id=conversation_id,
        text=text,
        attachments=[stored.as_attachment(kind_for(stored.mime_type))],
    )
    await realtime_service.commit(session)
    return message
