"""Keeps secrets out of logs: websocket URLs carry tokens in their query string."""

from __future__ import annotations

import logging
import re

_SECRET_PARAMS = re.compile(r"((?:token|access_token|secret)=)[^&\s\"']+", re.IGNORECASE)
# Telegram puts the bot token in the path: /bot123456:ABC…/sendMessage
_BOT_PATH = re.compile(r"(/bot)\d+:[A-Za-z0-9_-]+")


def redact(text: str) -> str:
    return _BOT_PATH.sub(r"\1[redacted]", _SECRET_PARAMS.sub(r"\1[redacted]", text))


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


def install(*logger_names: str) -> None:
    """Adds the filter to the named loggers (once), e.g. uvicorn's access and error logs."""
    for name in logger_names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())
