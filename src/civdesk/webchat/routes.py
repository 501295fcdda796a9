"""Citizen web chat: page, session, send, transcript, and a websocket for live replies."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from civdesk.conversation.receive import receive
from civdesk.core import events
from civdesk.core.errors import InvalidInput, NotFound, Unauthorized
from civdesk.deps import SessionDep, SessionmakerDep, SettingsDep
from civdesk.files.service import ALLOWED_TYPES
from civdesk.realtime import bus as bus_module
from civdesk.realtime.socket import LiveSocket, refuse
from civdesk.webchat import files as webchat_files
from civdesk.webchat import language
from civdesk.webchat import service as webchat_service
from civdesk.webchat.access import agency_channel, citizen_session
from civdesk.webchat.schemas import (
    ChatSessionRead,
    ChatStateRead,
    CitizenMessageCreate,
    CitizenRatingCreate,
    CitizenSendResult,
    TranscriptRead,
)

router = APIRouter(tags=["web chat"])
router.include_router(webchat_files.router)
templates = Jinja2Templates(directory=str(Path(__file__).parent.parent / "web" / "templates"))
_CITIZEN_EVENTS = {events.MESSAGE_CREATED, events.CONVERSATION_UPDATED}
_WIDGET = Path(__file__).parent.parent / "web" / "static" / "widget.js"
_ACCEPT = ",".join(sorted(ALLOWED_TYPES))


@router.get("/chat/{agency_slug}", response_class=HTMLResponse, include_in_schema=False)
async def chat_page(
    agency_slug: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    lang: str | None = None,
    accept_language: Annotated[str | None, Header()] = None,
) -> HTMLResponse:
    """The chat in `?lang=uk|en`, else in the browser's language (uk or en), else in Ukrainian. The
    page remembers a citizen's own choice (its language switch) and applies it when `lang` is absent."""
    agency_name, _ = await agency_channel(session, agency_slug)
    page_lang = language.choose(lang, accept_language)
    context = {
        "lang": page_lang,
        "other_lang": language.catalogue(page_lang)["lang.other.code"],
        "t": language.translator(page_lang),
        "strings": language.catalogue(page_lang),
        "agency_name": agency_name,
        "agency_slug": agency_slug,
        "accept": _ACCEPT,
        "max_file_bytes": settings.max_file_bytes,
        "max_file_mb": settings.max_file_bytes // (1024 * 1024),
    }
    headers = {"Content-Language": page_lang, "Vary": "Accept-Language"}
    return templates.TemplateResponse(request, "chat.html", context, headers=headers)


@router.get("/chat/{agency_slug}/widget.js", include_in_schema=False)
async def widget(agency_slug: str, session: SessionDep) -> FileResponse:
    """The agency's site embeds the chat with one tag: <script src=".../chat/{slug}/widget.js" defer>.
    The script finds the slug and our origin in its own URL, so one static file serves every agency."""
    await agency_channel(session, agency_slug)
    return FileResponse(
        _WIDGET,
        media_type="text/javascript",
        headers={"Cache-Control": "public, max-age=300", "Cross-Origin-Resource-Policy": "cross-origin"},
    )


@router.get("/chat/{agency_slug}/state", response_model=ChatStateRead)
async def chat_state(
    agency_slug: str,
    session: SessionDep,
    settings: SettingsDep,
    authorization: Annotated[str | None, Header()] = None,
    lang: Literal["uk", "en"] = "uk",
) -> ChatStateRead:
    """Whether anyone is online to answer, the agency's working hours (in `lang`) and, when closed, when
    it opens; the citizen's place in the queue with an expected wait; whether their resolved
    conversation awaits a rating. Works before a session exists (no Authorization): then the
    citizen's own fields are empty."""
    _, channel = await agency_channel(session, agency_slug)
    session_id = (
        None
        if authorization is None
        else citizen_session(secret_key=settings.secret_key, authorization=authorization, agency_slug=agency_slug)
    )
    return await webchat_service.chat_state(session=session, channel=channel, session_id=session_id, language=lang)


@router.post("/chat/{agency_slug}/rating", response_model=ChatStateRead)
async def rate(
    agency_slug: str,
    body: CitizenRatingCreate,
    session: SessionDep,
    settings: SettingsDep,
    authorization: Annotated[str | None, Header()] = None,
    lang: Literal["uk", "en"] = "uk",
) -> ChatStateRead:
    """The citizen's 1–5 score of their resolved conversation; answering again replaces it. Answers
    the state, its texts in `lang`."""
    session_id = citizen_session(secret_key=settings.secret_key, authorization=authorization, agency_slug=agency_slug)
    _, channel = await agency_channel(session, agency_slug)
    await webchat_service.rate(
        session=session, channel=channel, session_id=session_id, score=body.score, comment=body.comment
    )
    await session.commit()
    return await webchat_service.chat_state(session=session, channel=channel, session_id=session_id, language=lang)


@router.post("/chat/{agency_slug}/session", response_model=ChatSessionRead)
async def open_session(agency_slug: str, session: SessionDep, settings: SettingsDep) -> ChatSessionRead:
    """Starts an anonymous chat; the browser keeps the token to come back to the same conversation."""
    await agency_channel(session, agency_slug)
    session_id, token = webchat_service.open_session(secret_key=settings.secret_key, agency_slug=agency_slug)
    return ChatSessionRead(session_id=session_id, token=token)


@router.post("/chat/{agency_slug}/messages", status_code=202, response_model=CitizenSendResult)
async def send_message(
    agency_slug: str,
    body: CitizenMessageCreate,
    session: SessionDep,
    sessionmaker: SessionmakerDep,
    settings: SettingsDep,
    authorization: Annotated[str | None, Header()] = None,
) -> CitizenSendResult:
    """A message, or with `button_payload` a press of one of the agency's buttons (text: its title)."""
    session_id = citizen_session(secret_key=settings.secret_key, authorization=authorization, agency_slug=agency_slug)
    _, channel = await agency_channel(session, agency_slug)
    text = body.text
    if body.button_payload is not None:
        title = await webchat_service.offered_button(
            session=session, channel_id=channel.id, session_id=session_id, payload=body.button_payload
        )
        if title is None:
            raise InvalidInput("no such button was offered in this chat", "такої кнопки в цьому чаті не пропонували")
        text = title
    await session.close()  # receive() runs its own transaction
    outcome = await receive(
        sessionmaker=sessionmaker,
        channel_type="webchat",
        channel_id=channel.id,
        headers={},
        body=webchat_service.inbound_body(
            session_id=session_id,
            client_msg_id=body.client_msg_id,
            text=text,
            name=body.name,
            button_payload=body.button_payload,
        ),
        verified=True,
    )
    return CitizenSendResult(duplicate=outcome.duplicates > 0)


@router.get("/chat/{agency_slug}/messages", response_model=TranscriptRead)
async def transcript(
    agency_slug: str,
    session: SessionDep,
    settings: SettingsDep,
    after_id: Annotated[int, Query(ge=0)] = 0,
    authorization: Annotated[str | None, Header()] = None,
) -> TranscriptRead:
    session_id = citizen_session(secret_key=settings.secret_key, authorization=authorization, agency_slug=agency_slug)
    _, channel = await agency_channel(session, agency_slug)
    items = await webchat_service.transcript(
        session=session,
        channel_id=channel.id,
        session_id=session_id,
        secret_key=settings.secret_key,
        agency_slug=agency_slug,
        after_id=after_id,
    )
    more = len(items) == webchat_service.TRANSCRIPT_PAGE
    return TranscriptRead(items=items, next_after_id=items[-1].id if more else None)


@router.websocket("/chat/{agency_slug}/ws")
async def citizen_socket(agency_slug: str, websocket: WebSocket) -> None:
    """Pushes new messages of this citizen's chat; `after_id` resumes without a gap after reconnecting;
    `lang` (uk, en) is the language of the state's texts. A bad token is closed with 4401 after
    accepting, so the page can tell it from a network failure."""
    settings = websocket.app.state.settings
    maker: async_sessionmaker[AsyncSession] = websocket.app.state.sessionmaker
    try:
        session_id = webchat_service.session_from_token(
            secret_key=settings.secret_key, token=websocket.query_params.get("token", ""), agency_slug=agency_slug
        )
        async with maker() as session:
            _, channel = await agency_channel(session, agency_slug)
    except (Unauthorized, NotFound):
        await refuse(websocket, "invalid chat session")
        return
    cursor_param = websocket.query_params.get("after_id", "0")
    cursor = int(cursor_param) if cursor_param.isdigit() else 0
    lang = "en" if websocket.query_params.get("lang") == "en" else "uk"
    await websocket.accept()
    async with bus_module.current().subscribe(bus_module.agency_topic(channel.agency_id)) as live:
        socket = LiveSocket(websocket, live)
        contact_id: int | None = None
        try:
            while True:
                async with maker() as session:
                    if contact_id is None:
                        contact_id = await webchat_service.contact_of(
                            session=session, channel_id=channel.id, session_id=session_id
                        )
                    cursor = await _send_transcript(
                        websocket, session, channel.id, session_id, cursor, settings.secret_key, agency_slug
                    )
                    # A resolved conversation asks for a rating at once, without a reload.
                    state = await webchat_service.chat_state(
                        session=session, channel=channel, session_id=session_id, language=lang
                    )
                    await websocket.send_json({"type": "state", "state": state.model_dump(mode="json")})
                if not await _wait_for_own_chat(socket, channel.id, contact_id):
                    return
        except (WebSocketDisconnect, RuntimeError):
            return
        finally:
            await socket.close()


async def _send_transcript(
    websocket: WebSocket,
    session: AsyncSession,
    channel_id: int,
    session_id: str,
    cursor: int,
    secret_key: str,
    agency_slug: str,
) -> int:
    """Sends everything after the cursor, page by page, and returns the new cursor."""
    while True:
        items = await webchat_service.transcript(
            session=session,
            channel_id=channel_id,
            session_id=session_id,
            secret_key=secret_key,
            agency_slug=agency_slug,
            after_id=cursor,
        )
        for item in items:
            await websocket.send_json({"type": "message", "message": item.model_dump(mode="json")})
            cursor = item.id
        if len(items) < webchat_service.TRANSCRIPT_PAGE:
            return cursor


async def _wait_for_own_chat(socket: LiveSocket, channel_id: int, contact_id: int | None) -> bool:
    """Waits for a message event in this citizen's chat; False when the citizen has gone."""
    while (event := await socket.next_event()) is not None:
        payload = event.get("payload")
        # message.created carries {message, conversation}; conversation.updated the conversation itself.
        if event.get("type") == events.MESSAGE_CREATED:
            conversation = payload.get("conversation") if isinstance(payload, dict) else None
        else:
            conversation = payload
        if (
            event.get("type") in _CITIZEN_EVENTS
            and isinstance(conversation, dict)
            and conversation.get("channel_id") == channel_id
            # Before the citizen's first message we do not know their contact id yet.
            and (contact_id is None or conversation.get("contact_id") == contact_id)
        ):
            socket.drain()  # one transcript read covers a burst
            return True
    return False
