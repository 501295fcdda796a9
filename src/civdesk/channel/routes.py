from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from civdesk.conversation.receive import handshake, receive
from civdesk.deps import SessionmakerDep

router = APIRouter(tags=["webhooks"])

_MAX_BODY = 1024 * 1024  # platforms send small JSON; anything bigger is not from them


@router.post("/webhooks/{channel_type}/{channel_id}")
async def webhook(channel_type: str, channel_id: int, request: Request, sessionmaker: SessionmakerDep) -> JSONResponse:
    """A platform's update. 200 only after it is committed; 401 wrong secret; 400 malformed."""
    body = await request.body()
    if len(body) > _MAX_BODY:
        return JSONResponse({"error": {"code": "too_large", "message": "body too large"}}, status_code=413)
    outcome = await receive(
        sessionmaker=sessionmaker,
        channel_type=channel_type,
        channel_id=channel_id,
        # Viber may sign in the query string (?sig=) instead of a header.
        headers={k.lower(): v for k, v in request.headers.items()} | {":query": request.url.query},
        body=body,
    )
    if outcome.reply_body is not None:
        return JSONResponse(dict(outcome.reply_body))
    return JSONResponse(
        {"ok": True, "stored": outcome.stored, "duplicates": outcome.duplicates, "ignored": outcome.ignored_reason}
    )


@router.get("/webhooks/{channel_type}/{channel_id}", response_class=PlainTextResponse)
async def webhook_handshake(
    channel_type: str, channel_id: int, request: Request, sessionmaker: SessionmakerDep
) -> PlainTextResponse:
    """Meta's verification request: echo hub.challenge when hub.verify_token is ours; 403 otherwise."""
    challenge = await handshake(
        sessionmaker=sessionmaker, channel_type=channel_type, channel_id=channel_id, params=dict(request.query_params)
    )
    return PlainTextResponse(challenge)
