"""What the bot tells citizens while routing, in Ukrainian and English (other languages get English)."""

from __future__ import annotations

_TEXTS: dict[str, dict[str, str]] = {
    "triage": {
        "uk": "Вітаємо! Це {agency}. Оберіть тему звернення кнопкою або напишіть її номер чи своє питання:\n{topics}",
        "en": "Hello! This is {agency}. Choose a topic with a button, or write its number or your question:\n{topics}",
    },
    "language_hint": {
        "uk": "Мову можна змінити кнопкою.",
        "en": "You can change the language with a button.",
    },
    "topic_chosen": {
        "uk": "Тема: «{topic}». Передаємо ваше питання працівнику.",
        "en": "Topic: “{topic}”. We are passing your question to an officer.",
    },
    "general_queue": {
        "uk": "Дякуємо! Передаємо ваше питання працівнику.",
        "en": "Thank you! We are passing your question to an officer.",
    },
    "queued": {
        "uk": "Усі працівники зараз зайняті. Ви в черзі: {position}-й. Орієнтовне очікування — {minutes} хв.",
        "en": "All officers are busy. You are number {position} in the queue. Expected wait: about {minutes} min.",
    },
    "queued_nobody": {
        "uk": "Зараз немає вільних працівників. Ви в черзі: {position}-й. Ми відповімо, щойно працівник звільниться.",
        "en": "No officer is free right now. You are number {position} in the queue. We will answer as soon as one is.",
    },
    "closed": {
        "uk": "Зараз неробочий час. Наш графік: {hours} ({zone}). Ваше питання збережено, ми відповімо {opening}.",
        "en": "We are closed now. Our hours: {hours} ({zone}). Your question is saved; we will answer {opening}.",
    },
    "closed_opening": {
        "uk": "після відкриття, {when}",
        "en": "once we open, {when}",
    },
    "transferred_agency": {
        "uk": "Ваше питання передано до «{agency}»{topic}. Причина: {note}. Уся історія розмови передана разом із ним.",
        "en": "Your question was passed to “{agency}”{topic}. Reason: {note}. The whole conversation goes with it.",
    },
    "transferred_topic": {
        "uk": "Ваше питання передано фахівцям з теми «{topic}». Причина: {note}.",
        "en": "Your question has been passed to the officers for “{topic}”. Reason: {note}.",
    },
    "transferred_agent": {
        "uk": "Ваше питання передано іншому працівнику. Причина: {note}.",
        "en": "Your question has been passed to another officer. Reason: {note}.",
    },
}
LANGUAGE_NAMES = {"uk": "Українська", "en": "English", "pl": "Polski", "de": "Deutsch", "ro": "Română"}


def text(key: str, language: str, **values: object) -> str:
    variants = _TEXTS[key]
    template = variants.get(language) or variants["en"]
    return template.format(**values)
