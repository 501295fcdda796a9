"""A Messenger emulator under real uvicorn, and accounts of the adapter pointing at it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import pytest
from fastapi import FastAPI

from civdesk.channels.base import ChannelAccount
from civdesk.channels.messenger import MessengerAdapter
from civdesk.sandbox.messenger import MessengerEmulator, PageSpec, create_router
from tests.support.live_server import LiveServer

PAGE = PageSpec(page_id="104000000000001", name="Мінсоцполітики", token="EAAB-page-token-1",
                app_secret="app-secret-1")
PSID = "7100000000000001"


def sandbox_app(emulator: MessengerEmulator) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await emulator.start()
        try:
            yield
        finally:
            await emulator.stop()

    app = FastAPI(lifespan=lifespan)
    app.include_router(create_router(emulator))
    return app


@pytest.fixture
def emulator() -> MessengerEmulator:
    return MessengerEmulator(pages=[PAGE], retry_base_delay=0.05, retry_max_delay=0.2)


@pytest.fixture
def sandbox(emulator: MessengerEmulator) -> Iterator[LiveServer]:
    with LiveServer(sandbox_app(emulator)) as server:
        emulator.set_public_url(server.url)
        yield server


@pytest.fixture
def account(sandbox: LiveServer) -> ChannelAccount:
    return ChannelAccount(id=1, config={"api_base": sandbox.url, "api_version": "v21.0"},
                          secrets={"page_token": PAGE.token, "app_secret": PAGE.app_secret, "verify_token": "vt"})


@pytest.fixture
async def adapter() -> AsyncIterator[MessengerAdapter]:
    instance = MessengerAdapter()
    yield instance
    await instance.close()
