"""Files in the citizen web chat: the citizen uploads one (checked and stored by civdesk, then taken in
as a chat message) and downloads the files of their own chat, never anyone else's."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Header, Query, Request, UploadFile
from fastapi.responses import Response

from civdesk.conversation.receive import receive
from civdesk.core.errors import InvalidInput, NotFound
from civdesk.deps import SessionDep, SessionmakerDep, SettingsDep
from civdesk.files.service import Files, kind_for
from civdesk.webchat import service as webchat_service
from civdesk.webchat.access import agency_channel, citizen_session
from civdesk.webchat.schemas import CitizenSendResult

router = APIRouter(tags=["web chat"])


class FileTooLarge(InvalidInput):
    status = 413
    code = "file_too_large"


@router.post("/chat/{agency_slug}/files", status_code=202, response_model=CitizenSendResult)
async def send_file(
    agency_slug: str,
    request: Request,
    session: SessionDep,
    sessionmaker: SessionmakerDep,
    settings: SettingsDep,
    file: Annotated[UploadFile, File(description="the file: an image, PDF, office document, audio or video")],
    client_msg_id: Annotated[str, Form(min_length=8, max_length=64, description="resending is harmless")],
    text: Annotated[str, Form(max_length=4000, description="an optional caption")] = "",
    name: Annotated[str | None, Form(max_length=120)] = None,
    authorization: Annotated[str | None, Header()] = None,
) -> CitizenSendResult:
    """The citizen sends a file (with an optional caption). It is checked for size and type and stored
    before it becomes a message; the same client_msg_id again is a no-op."""
    session_id = citizen_session(secret_key=settings.secret_key, authorization=authorization, agency_slug=agency_slug)
    _, channel = await agency_channel(session, agency_slug)
    await session.close()  # receive() runs its own transaction
    files: Files = request.app.state.files
    data = await file.read(files.max_bytes + 1)
    if len(data) > files.max_bytes:
        mb = files.max_bytes // (1024 * 1024)
        raise FileTooLarge(f"the file is larger than {mb} MB", f"файл більший за {mb} МБ")
    stored = files.store(data=data, mime_type=file.content_type or "", name=file.filename)
    outcome = await receive(
        sessionmaker=sessionmaker,
        channel_type="webchat",
        channel_id=channel.id,
        headers={},
        body=webchat_service.inbound_body(
            session_id=session_id,
            client_msg_id=client_msg_id,
            text=text,
            name=name,
            attachments=[stored.as_attachment(kind_for(stored.mime_type))],
        ),
        verified=True,
    )
    return CitizenSendResult(duplicate=outcome.duplicates > 0)


@router.get("/chat/{agency_slug}/files/{message_id}/{index}")
async def download(
    agency_slug: str,
    message_id: int,
    index: int,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    file_token: Annotated[str | None, Query(description="the link's own token, as in the transcript")] = None,
    authorization: Annotated[str | None, Header()] = None,
) -> Response:
    """A file of the citizen's own chat, by the transcript's link or with the session token. Another
    chat's file answers exactly like a missing one. Always a download, never rendered as a page."""
    if file_token:
        session_id = webchat_service.session_from_file_token(
            secret_key=settings.secret_key,
            token=file_token,
            agency_slug=agency_slug,
            message_id=message_id,
            index=index,
        )
    else:
        session_id = citizen_session(
            secret_key=settings.secret_key, authorization=authorization, agency_slug=agency_slug
        )
    _, channel = await agency_channel(session, agency_slug)
    meta = await webchat_service.own_file(
        session=session, channel_id=channel.id, session_id=session_id, message_id=message_id, index=index
    )
    if meta is None:
        raise NotFound("no such file", "такого файлу немає")
    files: Files = request.app.state.files
    data = files.read(str(meta["stored_key"]))
    filename = quote(str(meta.get("name") or "file"), safe="")
    return Response(
        data,
        media_type=str(meta.get("mime_type") or "application/octet-stream"),
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{filename}",
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
            "Content-Security-Policy": "sandbox",
            "Cross-Origin-Resource-Policy": "same-origin",
        },
    )
