"""The one place that knows every adapter. Domains look adapters up here by channel type."""

from __future__ import annotations

from civdesk.channels.base import ChannelAdapter
from civdesk.channels.telegram import TelegramAdapter
from civdesk.channels.webchat import WebChatAdapter
from civdesk.core.errors import NotFound

_ADAPTERS: dict[str, ChannelAdapter] = {}


def _build() -> dict[str, ChannelAdapter]:
    if not _ADAPTERS:
        for adapter in (TelegramAdapter(), WebChatAdapter()):
            _ADAPTERS[adapter.type] = adapter
    return _ADAPTERS


def get(channel_type: str) -> ChannelAdapter:
    adapter = _build().get(channel_type)
    if adapter is None:
        raise NotFound(f"unknown channel type {channel_type!r}", f"невідомий тип каналу {channel_type!r}")
    return adapter


def types() -> list[str]:
    return sorted(_build())


async def close_all() -> None:
    for adapter in _ADAPTERS.values():
        await adapter.close()
