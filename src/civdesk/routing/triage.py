"""Triage in the messenger: the bot offers the agency's topics (and languages) before a human.

A citizen may press a button, write a topic's number or name, or simply ask their question: words
are matched to the topics' keywords by their start, so Ukrainian inflections match ("субсидію",
"субсидії" both start with "субсид"). A question that matches nothing goes to the agency's general
queue rather than trapping the citizen in a bot loop.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from civdesk.routing import messages
from civdesk.routing.config import AgencyRouting, TopicConfig

TOPIC_PREFIX = "topic:"
LANGUAGE_PREFIX = "lang:"
_WORD = re.compile(r"\w+", re.UNICODE)
_BUTTON_TITLE = 20  # the tightest platform limit (WhatsApp reply buttons)
_MAX_BUTTONS = 10


@dataclass(frozen=True)
class Choice:
    topic: TopicConfig | None = None
    language: str | None = None  # the citizen asked for another language


def _short(title: str) -> str:
    return title if len(title) <= _BUTTON_TITLE else title[: _BUTTON_TITLE - 1] + "…"


def match(cfg: AgencyRouting, *, text: str, payload: str | None) -> Choice:
    if payload and payload.startswith(TOPIC_PREFIX):
        suffix = payload.removeprefix(TOPIC_PREFIX)
        topic = cfg.topic(int(suffix)) if suffix.isdigit() else None
        return Choice(topic=topic)
    if payload and payload.startswith(LANGUAGE_PREFIX):
        language = payload.removeprefix(LANGUAGE_PREFIX)
        return Choice(language=language if language in cfg.languages else None)
    cleaned = text.strip().casefold().rstrip(".")
    if cleaned.isdigit() and 1 <= int(cleaned) <= len(cfg.topics):
        return Choice(topic=cfg.topics[int(cleaned) - 1])
    for topic in cfg.topics:
        if cleaned in {topic.name.casefold(), *(n.casefold() for n in topic.names.values())}:
            return Choice(topic=topic)
    return Choice(topic=_by_keywords(cfg, cleaned))


def _by_keywords(cfg: AgencyRouting, text: str) -> TopicConfig | None:
    words = _WORD.findall(text)
    scores: list[tuple[int, TopicConfig]] = []
    for topic in cfg.topics:
        score = sum(
            1
            for keyword in topic.keywords
            if (" " in keyword and keyword in text) or any(word.startswith(keyword) for word in words)
        )
        if score:
            scores.append((score, topic))
    scores.sort(key=lambda pair: -pair[0])
    # A tie between topics is a guess; better the general queue than the wrong specialist.
    if not scores or (len(scores) > 1 and scores[0][0] == scores[1][0]):
        return None
    return scores[0][1]


def prompt(cfg: AgencyRouting, language: str) -> tuple[str, list[dict[str, str]]]:
    listing = "\n".join(f"{index} — {topic.title(language)}" for index, topic in enumerate(cfg.topics, start=1))
    body = messages.text("triage", language, agency=cfg.name, topics=listing)
    others = [code for code in cfg.languages if code != language]
    if others:
        body += "\n" + messages.text("language_hint", language)
    buttons = [
        {"title": _short(topic.title(language)), "payload": f"{TOPIC_PREFIX}{topic.id}"}
        for topic in cfg.topics[: _MAX_BUTTONS - len(others)]
    ]
    buttons += [
        {"title": _short(messages.LANGUAGE_NAMES.get(code, code)), "payload": f"{LANGUAGE_PREFIX}{code}"}
        for code in others
    ]
    return body, buttons
