"""Files and buttons on Telegram: content types of downloaded files, inline keyboards out."""

from __future__ import annotations

import mimetypes
from collections.abc import Sequence
from pathlib import PurePosixPath

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from civdesk.channels.base import Button, SendFailed

# Bot API limits (core.telegram.org/bots/api): sendPhoto takes photos up to 10 MB, uploads by
# multipart go up to 50 MB, getFile hands out files up to 20 MB; captions are 0-1024 characters,
# callback_data 1-64 bytes; an inline keyboard holds at most 100 buttons, 8 to a row.
MAX_PHOTO_BYTES = 10 * 1024 * 1024
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
MAX_CAPTION = 1024
MAX_CALLBACK_BYTES = 64
MAX_BUTTONS = 100
# What sendPhoto accepts and shows inline; anything else (GIF, HEIC, huge images) goes as a document.
PHOTO_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})
OCTET_STREAM = "application/octet-stream"

# Telegram keeps the sender's extension in file_path ("documents/file_3.pdf"); the system's
# mimetypes table differs between hosts, so the types civdesk accepts are spelled out here.
_BY_EXTENSION = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
    ".gif": "image/gif",
    ".pdf": "application/pdf",
    ".txt": "text/plain",
    ".doc": "application/msword",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xls": "application/vnd.ms-excel",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".odt": "application/vnd.oasis.opendocument.text",
    ".ods": "application/vnd.oasis.opendocument.spreadsheet",
    ".oga": "audio/ogg",
    ".ogg": "audio/ogg",
    ".opus": "audio/ogg",
    ".mp3": "audio/mpeg",
    ".m4a": "audio/mp4",
    ".aac": "audio/aac",
    ".amr": "audio/amr",
    ".mp4": "video/mp4",
    ".3gp": "video/3gpp",
}
# Folders the Bot API files things under, for files whose name has no telling extension.
_BY_FOLDER = {"photos": "image/jpeg", "voice": "audio/ogg", "videos": "video/mp4", "video_notes": "video/mp4"}
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
    (b"OggS", "audio/ogg"),
)


def mime_for(file_path: str, data: bytes) -> str:
    """The content type of a file fetched by getFile: photos are JPEG, others by their path's
    extension, and where neither tells, by the first bytes."""
    path = PurePosixPath(file_path)
    folder = path.parts[0] if len(path.parts) > 1 else ""
    if folder == "photos":
        return "image/jpeg"
    mime = _BY_EXTENSION.get(path.suffix.lower()) or _BY_FOLDER.get(folder)
    if mime is None:
        guessed, _ = mimetypes.guess_type(path.name)
        mime = guessed or sniff(data)
    return mime


def sniff(data: bytes) -> str:
    for magic, mime in _MAGIC:
        if data.startswith(magic):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return OCTET_STREAM


def fetched_name(file_path: str) -> str | None:
    """A name for a fetched file where Telegram keeps none (photos, voice); documents keep the
    citizen's own file name from the message, so this returns None for them."""
    path = PurePosixPath(file_path)
    if path.parts[:1] == ("documents",):
        return None
    return path.name or None


def inline_keyboard(buttons: Sequence[Button]) -> InlineKeyboardMarkup:
    """Quick replies as an inline keyboard: callback_data is the payload, short titles share rows."""
    if len(buttons) > MAX_BUTTONS:
        raise SendFailed(f"Telegram takes at most {MAX_BUTTONS} buttons", permanent=True, code="too_many_buttons")
    for button in buttons:
        size = len(button.payload.encode())
        if not 1 <= size <= MAX_CALLBACK_BYTES:
            raise SendFailed(
                f"button payload {button.payload[:20]!r} is {size} bytes; Telegram takes 1-{MAX_CALLBACK_BYTES}",
                permanent=True,
                code="payload_too_long",
            )
        if not button.title.strip():
            raise SendFailed("a button has no title", permanent=True, code="empty_button")
    per_row = _per_row(max((len(b.title) for b in buttons), default=0))
    rows = [
        [InlineKeyboardButton(text=b.title, callback_data=b.payload) for b in buttons[start : start + per_row]]
        for start in range(0, len(buttons), per_row)
    ]
    return InlineKeyboardMarkup(inline_keyboard=rows)


def _per_row(longest_title: int) -> int:
    # A phone fits about 30 characters across: ratings (1-5) share one row, long answers get their own.
    if longest_title <= 3:
        return 5
    if longest_title <= 9:
        return 3
    if longest_title <= 16:
        return 2
    return 1
