"""A Telegram Bot API emulator: what aiogram talks to in tests and in the demo."""

from civdesk.sandbox.telegram.emulator import BotApiError, BotSpec, SandboxError, TelegramEmulator

__all__ = ["BotApiError", "BotSpec", "SandboxError", "TelegramEmulator"]
