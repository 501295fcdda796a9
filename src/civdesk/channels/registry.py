"""The one place that knows every adapter. Domains look adapters up here by channel type."""

from __future__ import annotations

import importlib

from civdesk.channels.base import ChannelAdapter
from civdesk.core.errors import NotFound

# type → "module:Class". Imported on first use: client libraries are heavy (aiogram's types take
# seconds to import), and a CLI command that never talks to Telegram should not pay for it.
_KNOWN = {
    "telegram": "civdesk.channels.telegram.adapter:TelegramAdapter",
    "webchat": "civdesk.channels.webchat.adapter:WebChatAdapter",
    "viber": "civdesk.channels.viber.adapter:ViberAdapter",
    "whatsapp": "civdesk.channels.whatsapp.adapter:WhatsAppAdapter",
    "messenger": "civdesk.channels.messenger.adapter:MessengerAdapter",
}

_ADAPTERS: dict[str, ChannelAdapter] = {}


def get(channel_type: str) -> ChannelAdapter:
    adapter = _ADAPTERS.get(channel_type)
    if adapter is None:
        target = _KNOWN.get(channel_type)
        if target is None:
            raise NotFound(f"unknown channel type {channel_type!r}", f"невідомий тип каналу {channel_type!r}")
        module_name, class_name = target.split(":")
        adapter = getattr(importlib.import_module(module_name), class_name)()
        _ADAPTERS[channel_type] = adapter
    return adapter


def load_all() -> None:
    """A long-running process loads every adapter before it serves: otherwise the first webhook of
    each kind imports its client library on the event loop (seconds for aiogram), and the heap
    settles (core.heap) only after that."""
    for channel_type in _KNOWN:
        get(channel_type)


def types() -> list[str]:
    return sorted(_KNOWN)


async def close_all() -> None:
    for adapter in _ADAPTERS.values():
        await adapter.close()
