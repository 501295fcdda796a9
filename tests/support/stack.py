"""Fixtures that start the real stack: the Telegram sandbox and civdesk, each under uvicorn."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from civdesk.app import create_app
from civdesk.config import Settings
from civdesk.sandbox.app import create_sandbox_app
from civdesk.sandbox.telegram.emulator import TelegramEmulator
from tests.support.live_server import LiveServer
from tests.support.world import BOT_TOKEN, OTHER_BOT_TOKEN, World, seed_world


@dataclass
class Stack:
    emulator: TelegramEmulator
    sandbox_url: str
    server: LiveServer
    world: World
    client: httpx.Client

    def webhook_url(self, channel_id: int) -> str:
        return f"{self.server.url}/webhooks/telegram/{channel_id}"


@pytest.fixture
def emulator() -> TelegramEmulator:
    emulator = TelegramEmulator(retry_base_delay=0.05, retry_max_delay=0.5)
    emulator.add_bot(token=BOT_TOKEN, username="minsoc_bot", first_name="Мінсоц")
    emulator.add_bot(token=OTHER_BOT_TOKEN, username="pfu_bot", first_name="ПФУ")
    return emulator


@pytest.fixture
def stack(settings: Settings, emulator: TelegramEmulator) -> Iterator[Stack]:
    with LiveServer(create_sandbox_app(emulator=emulator)) as sandbox:
        world = seed_world(settings, sandbox.url)
        with LiveServer(create_app(settings)) as server, httpx.Client(base_url=server.url, timeout=10) as client:
            for token, channel_id in (
                (BOT_TOKEN, world.telegram_channel_id),
                (OTHER_BOT_TOKEN, world.other_telegram_channel_id),
            ):
                emulator.set_webhook(
                    token,
                    url=f"{server.url}/webhooks/telegram/{channel_id}",
                    secret_token=world.webhook_secret,
                    max_connections=40,
                    allowed_updates=None,
                    drop_pending_updates=False,
                )
            yield Stack(emulator=emulator, sandbox_url=sandbox.url, server=server, world=world, client=client)
