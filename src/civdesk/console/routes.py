"""GET /console: the shell page in the agent's language, under a strict Content-Security-Policy.

Every UI string lives in one JSON catalogue per language (static/console/i18n/<lang>.json); the
server renders the shell from it and the scripts switch language from the same files, no reload.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Cookie, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from civdesk.deps import SettingsDep
from civdesk.files.service import ALLOWED_TYPES

router = APIRouter(include_in_schema=False)
_WEB = Path(__file__).parent.parent / "web"
templates = Jinja2Templates(directory=str(_WEB / "templates"))
LANGUAGES = ("uk", "en")
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' blob:; "
    "media-src 'self' blob:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
_HEADERS = {
    "Content-Security-Policy": CSP,
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


@lru_cache(maxsize=len(LANGUAGES))
def catalogue(lang: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((_WEB / "static" / "console" / "i18n" / f"{lang}.json").read_text("utf-8"))
    return data


@router.get("/console", response_class=HTMLResponse)
async def console_page(
    request: Request, settings: SettingsDep, civdesk_lang: Annotated[str | None, Cookie()] = None
) -> HTMLResponse:
    lang = civdesk_lang if civdesk_lang in LANGUAGES else "uk"
    strings = catalogue(lang)

    def t(key: str) -> str:
        value = strings.get(key, key)
        return value if isinstance(value, str) else key

    context = {
        "lang": lang,
        "t": t,
        "accept": ",".join(sorted(ALLOWED_TYPES)),
        "max_file_bytes": settings.max_file_bytes,
    }
    return templates.TemplateResponse(request, "console.html", context, headers=_HEADERS)
