"""Files in the emulator: getFile and its download URL, sendPhoto/sendDocument, the citizen's files.

Limits and errors are the Bot API's: getFile hands out files up to 20 MB ("Bad Request: file is too
big"), multipart uploads go up to 50 MB (413), photos up to 10 MB with width + height ≤ 10,000,
captions up to 1024 characters. File ids are per bot, as in Telegram.
"""

from __future__ import annotations

import mimetypes
import secrets
import struct
import threading
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from civdesk.sandbox.telegram.state import (
    BotApiError,
    BotState,
    Chat,
    JsonDict,
    SandboxError,
    StoredFile,
    citizen_message,
)

MAX_GETFILE_BYTES = 20 * 1024 * 1024
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
MAX_PHOTO_BYTES = 10 * 1024 * 1024
MAX_CAPTION = 1024
MAX_CITIZEN_BYTES = 64 * 1024 * 1024  # the sandbox keeps files in memory
TOO_BIG = "Bad Request: file is too big"
_EXTENSIONS = {"image/jpeg": ".jpg", "application/pdf": ".pdf", "text/plain": ".txt", "image/png": ".png",
               "audio/ogg": ".oga"}


@dataclass(frozen=True)
class Upload:
    """A file part of a multipart Bot API call."""

    filename: str
    content_type: str
    data: bytes = field(repr=False)


def guess_mime(filename: str) -> str:
    """Telegram sets a document's mime_type from its file name, whatever the upload claimed."""
    guessed, _ = mimetypes.guess_type(filename)
    return guessed or "application/octet-stream"


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of a PNG or JPEG, read from its header; None for anything else."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    if not data.startswith(b"\xff\xd8"):
        return None
    at = 2
    while at + 9 < len(data):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        length = int.from_bytes(data[at + 2 : at + 4], "big")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # a start-of-frame segment
            height, width = struct.unpack(">HH", data[at + 5 : at + 9])
            return int(width), int(height)
        at += 2 + length
    return None


def _is_image(data: bytes) -> bool:
    return data.startswith((b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP")


class MediaMixin:
    """TelegramEmulator's file methods; they use its lock and helpers, declared here for the type checker."""

    _cond: threading.Condition

    def _bot(self, token: str) -> BotState:
        raise NotImplementedError

    def _chat(self, bot: BotState, chat_id: int, *, create: bool = False, writable: bool = False) -> Chat:
        raise NotImplementedError

    def _log(self, chat: Chat, sender: str, kind: str, **fields: Any) -> None:
        raise NotImplementedError

    def _enqueue(self, bot: BotState, chat_id: int, kind: str, payload: JsonDict) -> JsonDict:
        raise NotImplementedError

    def _notify(self, token: str) -> None:
        raise NotImplementedError

    def _recipient(self, bot: BotState, chat_id: int | str) -> Chat:
        raise NotImplementedError

    def _bot_says(self, bot: BotState, chat: Chat, content: JsonDict, record: JsonDict,
                  page_file: JsonDict | None = None) -> JsonDict:
        raise NotImplementedError

    # -- Bot API -----------------------------------------------------------------------------------

    def get_file(self, token: str, *, file_id: str) -> JsonDict:
        with self._cond:
            bot = self._bot(token)
            stored = bot.files.get(file_id)
            if stored is None:
                raise BotApiError(400, "Bad Request: invalid file_id")
            if stored.size > MAX_GETFILE_BYTES:
                raise BotApiError(400, TOO_BIG)
            bot.issued_paths[stored.file_path] = file_id
            return {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id, "file_size": stored.size,
                    "file_path": stored.file_path}

    def download(self, token: str, *, file_path: str) -> StoredFile | None:
        """GET /file/bot<token>/<file_path>: only paths getFile has handed out."""
        with self._cond:
            try:
                bot = self._bot(token)
            except SandboxError:
                return None
            file_id = bot.issued_paths.get(file_path)
            return bot.files.get(file_id) if file_id else None

    def send_media(self, token: str, *, method: str, chat_id: int | str, media: Upload | str,
                   caption: str | None, parse_mode: str | None, reply_markup: JsonDict | None) -> JsonDict:
        """sendPhoto or sendDocument; ``media`` is an upload or the file_id of a file this bot knows."""
        caption = caption or None
        if caption is not None and len(caption) > MAX_CAPTION:
            raise BotApiError(400, "Bad Request: message caption is too long")
        photo = method == "sendPhoto"
        with self._cond:  # the chat is checked before the file is looked up or kept
            bot = self._bot(token)
            chat = self._recipient(bot, chat_id)
            stored = self._resolve(bot, media, photo=photo)
            content = _media_fields(stored, photo=photo)
            if caption is not None:
                content["caption"] = caption
            record = {"method": method, "chat_id": chat_id, "caption": caption, "parse_mode": parse_mode,
                      "reply_markup": reply_markup, "file": {**stored.describe(), "filename": stored.name}}
            return self._bot_says(bot, chat, content, record, _page_file(stored, photo=photo, name=None))

    def _resolve(self, bot: BotState, media: Upload | str, *, photo: bool) -> StoredFile:
        if isinstance(media, str):
            if media.startswith(("http://", "https://")):
                raise BotApiError(400, "Bad Request: failed to get HTTP URL content")
            known = bot.files.get(media)
            if known is None:
                raise BotApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
            return known
        if not media.data:
            raise BotApiError(400, "Bad Request: file must be non-empty")
        if len(media.data) > MAX_UPLOAD_BYTES:
            raise BotApiError(413, "Request Entity Too Large")
        if photo:
            if not _is_image(media.data):
                raise BotApiError(400, "Bad Request: IMAGE_PROCESS_FAILED")
            if len(media.data) > MAX_PHOTO_BYTES:
                raise BotApiError(400, "Bad Request: PHOTO_SAVE_FILE_INVALID")
            width, height = image_size(media.data) or (0, 0)
            if width + height > 10_000 or (min(width, height) and max(width, height) / min(width, height) > 20):
                raise BotApiError(400, "Bad Request: PHOTO_INVALID_DIMENSIONS")
            return self._keep(bot, media.data, name=None, mime_type="image/jpeg", folder="photos")
        name = PurePosixPath(media.filename or "file").name or "file"
        return self._keep(bot, media.data, name=name, mime_type=guess_mime(name), folder="documents")

    def _keep(self, bot: BotState, data: bytes, *, name: str | None, mime_type: str, folder: str) -> StoredFile:
        unique = secrets.token_urlsafe(12)
        suffix = PurePosixPath(name).suffix.lower() if name else ""
        ext = suffix or _EXTENSIONS.get(mime_type) or mimetypes.guess_extension(mime_type) or ""
        stored = StoredFile(file_id=f"{'AgAC' if folder == 'photos' else 'BQAC'}{secrets.token_urlsafe(24)}",
                            file_unique_id=unique[:16], file_path=f"{folder}/file_{len(bot.files)}{ext}",
                            mime_type=mime_type, name=name, data=data)
        bot.files[stored.file_id] = stored
        return stored

    # -- citizen side ------------------------------------------------------------------------------

    def citizen_sends_file(self, token: str, chat_id: int, data: bytes, filename: str, mime_type: str,
                           caption: str | None = None, *, as_photo: bool | None = None,
                           first_name: str | None = None) -> JsonDict:
        """A photo or a document from the citizen, with an optional caption; returns the update.
        JPEGs go as photos unless ``as_photo`` is False; the sandbox cannot re-encode other images."""
        if not data:
            raise SandboxError(422, "the file is empty")
        if len(data) > MAX_CITIZEN_BYTES:
            raise SandboxError(413, f"the sandbox takes files up to {MAX_CITIZEN_BYTES // (1024 * 1024)} MB")
        if caption is not None and len(caption) > MAX_CAPTION:
            raise SandboxError(422, f"a caption is at most {MAX_CAPTION} characters")
        jpeg = data.startswith(b"\xff\xd8\xff")
        photo = jpeg if as_photo is None else as_photo
        if photo and not jpeg:
            raise SandboxError(422, "the sandbox sends only JPEG images as photos; send other files as documents")
        with self._cond:
            bot = self._bot(token)
            chat = self._chat(bot, chat_id, create=True)
            if not chat.user:
                chat.user = {"id": chat_id, "is_bot": False, "first_name": "Олена", "language_code": "uk"}
            if first_name:
                chat.user["first_name"] = first_name
            name = PurePosixPath(filename or "file").name or "file"
            stored = (self._keep(bot, data, name=None, mime_type="image/jpeg", folder="photos") if photo else
                      self._keep(bot, data, name=name, mime_type=mime_type or guess_mime(name), folder="documents"))
            message = citizen_message(chat, chat.take_message_id(), "")
            message.update(_media_fields(stored, photo=photo))
            if caption:
                message["caption"] = caption
            self._log(chat, "citizen", "message", message_id=message["message_id"], text=caption or "",
                      file=_page_file(stored, photo=photo, name=name), date=message["date"])
            return self._enqueue(bot, chat_id, "message", message)

    def file_content(self, token: str, *, file_id: str) -> StoredFile:
        """For the citizen page: any file of this bot's chats, sent or received."""
        with self._cond:
            stored = self._bot(token).files.get(file_id)
            if stored is None:
                raise SandboxError(404, "no such file")
            return stored


def _media_fields(stored: StoredFile, *, photo: bool) -> JsonDict:
    if photo:
        width, height = image_size(stored.data) or (0, 0)
        return {"photo": [{"file_id": stored.file_id, "file_unique_id": stored.file_unique_id,
                           "file_size": stored.size, "width": width, "height": height}]}
    document: JsonDict = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id,
                          "file_size": stored.size, "mime_type": stored.mime_type}
    if stored.name:
        document["file_name"] = stored.name
    return {"document": document}


def _page_file(stored: StoredFile, *, photo: bool, name: str | None) -> JsonDict:
    """How the transcript (and the citizen page) describes a file in a message."""
    return {**stored.describe(), "name": stored.name or name or "photo.jpg", "kind": "photo" if photo else "document"}

