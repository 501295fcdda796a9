"""Request validation problems in people's words, Ukrainian and English, for forms that show each
message beside its field. English keeps pydantic's own wording; a type not listed keeps it in both."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_UK = {
    "missing": "Обов’язкове поле.",
    "extra_forbidden": "Невідоме поле.",
    "greater_than_equal": "Має бути щонайменше {ge}.",
    "greater_than": "Має бути більше за {gt}.",
    "less_than_equal": "Має бути щонайбільше {le}.",
    "less_than": "Має бути менше за {lt}.",
    "int_parsing": "Має бути ціле число.",
    "int_from_float": "Має бути ціле число.",
    "int_type": "Має бути ціле число.",
    "bool_parsing": "Має бути «так» або «ні».",
    "bool_type": "Має бути «так» або «ні».",
    "string_type": "Має бути текст.",
    "string_too_short": "Закоротко: щонайменше {min_length} симв.",
    "string_too_long": "Задовго: щонайбільше {max_length} симв.",
    "string_pattern_mismatch": "Неправильний формат.",
    "too_short": "Замало значень: щонайменше {min_length}.",
    "too_long": "Забагато значень: щонайбільше {max_length}.",
    "list_type": "Має бути список.",
    "dict_type": "Має бути об’єкт.",
    "literal_error": "Має бути одне з: {expected}.",
    "date_parsing": "Має бути дата у форматі РРРР-ММ-ДД.",
    "date_from_datetime_parsing": "Має бути дата у форматі РРРР-ММ-ДД.",
    "date_type": "Має бути дата у форматі РРРР-ММ-ДД.",
    "json_invalid": "Некоректний JSON.",
}


def problem(error: Mapping[str, Any]) -> dict[str, str]:
    """One pydantic error as {"field": "body.x", "type", "message" (Ukrainian), "message_en"}."""
    english = str(error.get("msg", ""))
    kind = str(error.get("type", ""))
    ctx = {key: value for key, value in (error.get("ctx") or {}).items() if isinstance(value, str | int | float)}
    template = _UK.get(kind)
    if kind in ("string_too_short", "too_short") and ctx.get("min_length") == 1:
        template = "Не може бути порожнім."
    try:
        ukrainian = template.format(**ctx) if template else english
    except (KeyError, IndexError):
        ukrainian = english
    return {
        "field": ".".join(str(part) for part in error.get("loc", ())),
        "type": kind,
        "message": ukrainian,
        "message_en": english,
    }
