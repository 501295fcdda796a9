"""The citizen chat page's language: `?lang=uk|en`, else the first of uk/en in the browser's
Accept-Language, else Ukrainian. Every string of the page, template and scripts alike, lives in one
JSON catalogue per language (static/chat-i18n/<lang>.json); the page carries its catalogue to the scripts."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

LANGUAGES = ("uk", "en")
DEFAULT = "uk"
_CATALOGUES = Path(__file__).parent.parent / "web" / "static" / "chat-i18n"


def choose(query: str | None, accept_language: str | None) -> str:
    """The page's language: a valid `?lang=` wins; otherwise the browser's preferences, best first."""
    if query in LANGUAGES:
        return query
    return from_accept_language(accept_language or "") or DEFAULT


def from_accept_language(header: str) -> str | None:
    """The first of our languages in an Accept-Language header, by quality (ties keep their order)."""
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().split("-")[0].lower()
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if primary in LANGUAGES and quality > 0:
            ranked.append((-quality, index, primary))
    return min(ranked)[2] if ranked else None


@lru_cache(maxsize=len(LANGUAGES))
def catalogue(lang: str) -> dict[str, str]:
    data: dict[str, str] = json.loads((_CATALOGUES / f"{lang}.json").read_text("utf-8"))
    return data


def translator(lang: str) -> Callable[..., str]:
    """t(key, **params): the string in `lang`, with {name} placeholders filled; a missing key shows itself."""
    strings = catalogue(lang)

    def t(key: str, **params: object) -> str:
        text = strings.get(key, key)
        for name, value in params.items():
            text = text.replace("{" + name + "}", str(value))
        return text

    return t
