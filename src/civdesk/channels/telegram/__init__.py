"""Telegram Bot API, through aiogram's client and types."""

from civdesk.channels.telegram.adapter import TelegramAdapter

__all__ = ["TelegramAdapter"]
