"""Checks and stores files; signs short-lived links for platforms that fetch media by URL."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer

from civdesk.core.errors import InvalidInput, NotFound
from civdesk.files.storage import LocalStorage

# What citizens and agents may exchange. Executables and HTML (which would run in an agent's
# browser) are refused whatever their extension says.
ALLOWED_TYPES = {
    "image/jpeg",
    "image/png",
    "image/webp",
    "image/gif",
    "application/pdf",
    "text/plain",
    "application/msword",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.ms-excel",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.spreadsheet",
    "audio/ogg",
    "audio/mpeg",
    "audio/mp4",
    "audio/aac",
    "audio/amr",
    "video/mp4",
    "video/3gpp",
}
# Magic numbers for the types whose content is easy to check: a ".pdf" that is not a PDF is refused.
_SIGNATURES: dict[str, tuple[bytes, ...]] = {
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "application/pdf": (b"%PDF-",),
}
_LINK_SALT = "civdesk.files.public-link"


@dataclass(frozen=True)
class StoredFile:
    key: str
    mime_type: str
    name: str
    size: int

    def as_attachment(self, kind: str) -> dict[str, Any]:
        return {"kind": kind, "stored_key": self.key, "mime_type": self.mime_type, "name": self.name, "size": self.size}


def kind_for(mime_type: str) -> str:
    if mime_type.startswith("image/"):
        return "photo"
    if mime_type.startswith("audio/"):
        return "voice"
    if mime_type.startswith("video/"):
        return "video"
    return "document"


def check(*, data: bytes, mime_type: str, max_bytes: int) -> str:
    """Returns the normalised content type, or refuses the file with a reason a person understands."""
    mime = (mime_type or "").split(";")[0].strip().lower()
    if not data:
        raise InvalidInput("the file is empty", "файл порожній")
    if len(data) > max_bytes:
        raise InvalidInput(
            f"the file is larger than {max_bytes // (1024 * 1024)} MB",
            f"файл більший за {max_bytes // (1024 * 1024)} МБ",
        )
    if mime not in ALLOWED_TYPES:
        raise InvalidInput(f"files of type {mime or 'unknown'} are not accepted", "такий тип файлу не приймається")
    signatures = _SIGNATURES.get(mime)
    if signatures and not data.startswith(signatures):
        raise InvalidInput(f"the content is not {mime}", "вміст файлу не відповідає його типу")
    return mime


class Files:
    """The file store the app was configured with."""

    def __init__(self, *, root: Path, max_bytes: int, secret_key: str) -> None:
        self.storage = LocalStorage(root)
        self.max_bytes = max_bytes
        self._links = URLSafeTimedSerializer(secret_key, salt=_LINK_SALT)

    def store(self, *, data: bytes, mime_type: str, name: str | None) -> StoredFile:
        mime = check(data=data, mime_type=mime_type, max_bytes=self.max_bytes)
        safe_name = Path(name or "file").name[:200] or "file"
        return StoredFile(key=self.storage.put(data), mime_type=mime, name=safe_name, size=len(data))

    def read(self, key: str) -> bytes:
        if not self.storage.exists(key):
            raise NotFound("the file is not stored", "файл не знайдено")
        return self.storage.get(key)

    def public_token(self, key: str) -> str:
        """A link token a platform can fetch the file with, for an hour (Viber, WhatsApp by link)."""
        return self._links.dumps(key)

    def key_from_public_token(self, token: str, *, max_age_seconds: int = 3600) -> str:
        try:
            return str(self._links.loads(token, max_age=max_age_seconds))
        except BadSignature:
            raise NotFound("the link has expired", "посилання застаріло") from None
