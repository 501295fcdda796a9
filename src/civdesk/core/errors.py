"""Domain errors. One HTTP handler maps them to a status, a stable code and a bilingual message."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class CivdeskError(Exception):
    """Base error: `code` is stable for clients, `message_uk`/`message_en` are for people."""

    status = 400
    code = "bad_request"

    def __init__(self, message_en: str, message_uk: str | None = None, **details: object) -> None:
        super().__init__(message_en)
        self.message_en = message_en
        self.message_uk = message_uk or message_en
        self.details = details

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code}: {self.message_en!r})"


class NotFound(CivdeskError):
    status = 404
    code = "not_found"


class Conflict(CivdeskError):
    status = 409
    code = "conflict"


class OutsideReplyWindow(Conflict):
    """The platform allows free-form replies only for a while after the citizen's last message."""

    code = "outside_window"


class InvalidInput(CivdeskError):
    status = 400
    code = "invalid_input"


class ResolutionCodeRequired(InvalidInput):
    """The agency keeps resolution codes: resolving must name one."""

    code = "resolution_code_required"


class Unauthorized(CivdeskError):
    status = 401
    code = "unauthorized"


class Forbidden(CivdeskError):
    status = 403
    code = "forbidden"


class ConfigurationError(CivdeskError):
    """A setting is missing or unsafe; the CLI prints it as one line."""

    code = "configuration"


@contextmanager
def about_field(name: str) -> Iterator[None]:
    """Names the request field an error raised inside is about, so a form can show it beside that field
    (the HTTP handler reports it as a problem of `body.<name>`, like a validation error)."""
    try:
        yield
    except CivdeskError as error:
        error.details.setdefault("field", name)
        raise
