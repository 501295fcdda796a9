"""The Bot API over HTTP: ``/bot<token>/<method>``, parameters and answers as Telegram gives them.

Parameters may come in the query string, a JSON body, an urlencoded form or multipart; in forms
every value is a string and objects are JSON strings (that is how aiogram posts), so each
parameter is coerced here rather than trusted to have a type. Multipart file parts are kept as
uploads; a parameter may name one as ``attach://<part name>``, which is how aiogram sends files.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from civdesk.sandbox.telegram.emulator import BotApiError, TelegramEmulator
from civdesk.sandbox.telegram.media import MAX_UPLOAD_BYTES, Upload

Params = dict[str, Any]
_LONG_POLL_CAP = 50.0


@dataclass(frozen=True)
class _Ok:
    result: Any
    description: str | None = None


async def handle(emulator: TelegramEmulator, token: str, method: str, request: Request) -> JSONResponse:
    emulator.bind_loop()
    try:
        name = emulator.begin_call(token, method)
        params = await _read_params(request)
        answer = await _HANDLERS[name](emulator, token, params)
    except BotApiError as exc:
        headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else None
        return JSONResponse(exc.body(), status_code=exc.status, headers=headers)
    body: dict[str, Any] = {"ok": True, "result": answer.result}
    if answer.description:
        body["description"] = answer.description
    return JSONResponse(body)


async def _read_params(request: Request) -> Params:
    params: Params = dict(request.query_params)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json":
        raw = await request.body()
        if raw.strip():
            try:
                data = json.loads(raw)
            except ValueError:
                raise BotApiError(400, "Bad Request: can't parse JSON object") from None
            if not isinstance(data, dict):
                raise BotApiError(400, "Bad Request: JSON object expected")
            params.update(data)
    elif content_type == "application/x-www-form-urlencoded":
        # Decoded as UTF-8 before unquoting, so raw (unescaped) non-ASCII bytes survive as Telegram's do.
        text = (await request.body()).decode("utf-8", errors="replace")
        params.update(parse_qsl(text, keep_blank_values=True))
    elif content_type == "multipart/form-data":
        try:
            async with request.form() as form:
                for key, value in form.multi_items():
                    params[key] = value if isinstance(value, str) else await _upload(value)
        except HTTPException:  # Starlette's answer to a malformed multipart body
            raise BotApiError(400, "Bad Request: can't parse multipart/form-data") from None
    return params


async def _upload(part: UploadFile) -> Upload:
    data = await part.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise BotApiError(413, "Request Entity Too Large")
    return Upload(filename=part.filename or "", content_type=part.content_type or "", data=data)


async def download(emulator: TelegramEmulator, token: str, file_path: str) -> Response:
    """GET /file/bot<token>/<file_path>, for paths getFile handed out."""
    stored = emulator.download(token, file_path=file_path)
    if stored is None:
        return JSONResponse({"ok": False, "error_code": 404, "description": "Not Found"}, status_code=404)
    return Response(stored.data, media_type="application/octet-stream")


def _bad_type(name: str, kind: str) -> BotApiError:
    return BotApiError(400, f'Bad Request: parameter "{name}" must be {kind}')


def _int(params: Params, name: str, default: int) -> int:
    value = params.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise _bad_type(name, "an Integer")


def _bool(params: Params, name: str) -> bool:
    value = params.get(name)
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, int | str) and str(value).strip().lower() in ("1", "true", "0", "false", ""):
        return str(value).strip().lower() in ("1", "true")
    raise _bad_type(name, "a Boolean")


def _str(params: Params, name: str) -> str | None:
    value = params.get(name)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, Upload):
        raise _bad_type(name, "a String")
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise _bad_type(name, "a String")


def _json(params: Params, name: str) -> Any:
    value = params.get(name)
    if isinstance(value, str):
        if not value.strip():
            return None
        try:
            return json.loads(value)
        except ValueError:
            raise _bad_type(name, "JSON-serialized") from None
    return value


def _allowed_updates(params: Params) -> list[str] | None:
    value = _json(params, "allowed_updates")
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BotApiError(400, "Bad Request: can't parse allowed updates")
    return value


async def _get_me(emulator: TelegramEmulator, token: str, params: Params) -> _Ok:
    return _Ok(emulator.get_me(token))


async def _set_webhook(emulator: TelegramEmulator, token: str, params: Params) -> _Ok:
    url = _str(params, "url") or ""
    emulator.set_webhook(token, url=url, secret_token=_str(params, "secret_token") or None,
                         max_connections=_int(params, "max_connections", 40),
                         allowed_updates=_allowed_updates(params),
                         drop_pending_updates=_bool(params, "drop_pending_updates"))
    return _Ok(True, "Webhook was set" if url else "Webhook was deleted")


async def _delete_webhook(emulator: TelegramEmulator, token: str, params: Params) -> _Ok:
    had = emulator.delete_webhook(token, drop_pending_updates=_bool(params, "drop_pending_updates"))
    return _Ok(True, "Webhook was deleted" if had else "Webhook is already deleted")


async def _get_webhook_info(emulator: TelegramEmulator, token: str, params: Params) -> _Ok:
    return _Ok(emulator.get_webhook_info(token))


async def _get_updates(emulator: TelegramEmulator, token: str, params: Params) -> _Ok:
    limit = _int(params, "limit", 100)
    timeout = min(max(_int(params, "timeout", 0), 0), _LONG_POLL_CAP)
    updates = await emulator.get_updates(token, offset=_int(params, "offset", 0),
                                         limit=min(max(limit, 1), 100), poll_seconds=timeout,
                                         allowed_updates=_allowed_updates(params))
    return _Ok(updates)


def _chat_id(params: Params) -> int | str:
    raw_chat = _str(params, "chat_id")
    if not raw_chat:
        raise BotApiError(400, "Bad Request: chat_id is empty")
    return int(raw_chat) if raw_chat.lstrip("-").isdigit() else raw_chat


def _markup(params: Params) -> dict[str, Any] | None:
    markup = _json(params, "reply_markup")
    if markup is not None and not isinstance(markup, dict):
        raise BotApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
    return markup


def _media(params: Params, name: str) -> Upload | str:
    """The file parameter: an upload, ``attach://<part>``, or the file_id of a known file."""
    value = params.get(name)
    if isinstance(value, str) and value.startswith("attach://"):
        value = params.get(value.removeprefix("attach://"))
        if not isinstance(value, Upload):
            raise BotApiError(400, f"Bad Request: wrong remote file identifier specified: file {name} not found")
    if isinstance(value, Upload):
        return value
    if isinstance(value, str) and value.strip():
        return value.strip()
    raise BotApiError(400, f"Bad Request: there is no {name} in the request")


async def _send_message(emulator: TelegramEmulator, token: str, params: Params) -> _Ok:
    message = emulator.send_message(token, chat_id=_chat_id(params), text=_str(params, "text") or "",
                                    parse_mode=_str(params, "parse_mode") or None, reply_markup=_markup(params))
    return _Ok(message)


async def _send_photo(emulator: TelegramEmulator, token: str, params: Params) -> _Ok:
    return _Ok(emulator.send_media(token, method="sendPhoto", chat_id=_chat_id(params), media=_media(params, "photo"),
                                   caption=_str(params, "caption"), parse_mode=_str(params, "parse_mode") or None,
                                   reply_markup=_markup(params)))


async def _send_document(emulator: TelegramEmulator, token: str, params: Params) -> _Ok:
    return _Ok(emulator.send_media(token, method="sendDocument", chat_id=_chat_id(params),
                                   media=_media(params, "document"), caption=_str(params, "caption"),
                                   parse_mode=_str(params, "parse_mode") or None, reply_markup=_markup(params)))


async def _send_location(emulator: TelegramEmulator, token: str, params: Params) -> _Ok:
    return _Ok(emulator.send_location(token, chat_id=_chat_id(params), latitude=params.get("latitude"),
                                      longitude=params.get("longitude"), reply_markup=_markup(params)))


async def _send_venue(emulator: TelegramEmulator, token: str, params: Params) -> _Ok:
    return _Ok(emulator.send_venue(token, chat_id=_chat_id(params), latitude=params.get("latitude"),
                                   longitude=params.get("longitude"), title=_str(params, "title"),
                                   address=_str(params, "address"), reply_markup=_markup(params)))


async def _send_contact(emulator: TelegramEmulator, token: str, params: Params) -> _Ok:
    return _Ok(emulator.send_contact(token, chat_id=_chat_id(params), phone_number=_str(params, "phone_number"),
                                     first_name=_str(params, "first_name"), last_name=_str(params, "last_name"),
                                     reply_markup=_markup(params)))


async def _get_file(emulator: TelegramEmulator, token: str, params: Params) -> _Ok:
    file_id = _str(params, "file_id")
    if not file_id:
        raise BotApiError(400, "Bad Request: file_id is empty")
    return _Ok(emulator.get_file(token, file_id=file_id))


async def _answer_callback_query(emulator: TelegramEmulator, token: str, params: Params) -> _Ok:
    emulator.answer_callback_query(token, callback_query_id=_str(params, "callback_query_id") or "",
                                   text=_str(params, "text") or None, show_alert=_bool(params, "show_alert"))
    return _Ok(True)


_HANDLERS: dict[str, Callable[[TelegramEmulator, str, Params], Awaitable[_Ok]]] = {
    "getMe": _get_me,
    "setWebhook": _set_webhook,
    "deleteWebhook": _delete_webhook,
    "getWebhookInfo": _get_webhook_info,
    "getUpdates": _get_updates,
    "sendMessage": _send_message,
    "answerCallbackQuery": _answer_callback_query,
    "getFile": _get_file,
    "sendPhoto": _send_photo,
    "sendDocument": _send_document,
    "sendLocation": _send_location,
    "sendVenue": _send_venue,
    "sendContact": _send_contact,
}
