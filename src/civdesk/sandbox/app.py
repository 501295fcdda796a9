"""The sandbox as one ASGI app: the Telegram Bot API, its control API and the citizen page.

Standalone: ``uvicorn --factory civdesk.sandbox.app:create_sandbox_app --port 8081``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.responses import FileResponse

from civdesk.sandbox.messenger import MessengerEmulator
from civdesk.sandbox.messenger import create_router as create_messenger_router
from civdesk.sandbox.telegram.emulator import BotSpec, TelegramEmulator
from civdesk.sandbox.telegram.routes import bot_api_router, control_router
from civdesk.sandbox.viber import DEMO_ACCOUNT as VIBER_DEMO
from civdesk.sandbox.viber import ViberEmulator
from civdesk.sandbox.viber import create_router as create_viber_router
from civdesk.sandbox.whatsapp import DEMO_NUMBER as WHATSAPP_DEMO
from civdesk.sandbox.whatsapp import WhatsAppEmulator
from civdesk.sandbox.whatsapp import create_router as create_whatsapp_router

WEB_DIR = Path(__file__).parent / "web"
# Lets a newcomer open the page and chat at once; real setups pass their own emulator and bots.
DEMO_BOT = BotSpec(token="1000001:civdesk-sandbox-demo", username="civdesk_demo_bot",
                   first_name="Держслужба (демо)")
# The page loads only its own files and talks only to this server.
_PAGE_HEADERS = {"Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'",
                 "X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"}


def create_sandbox_app(*, emulator: TelegramEmulator | None = None, viber: ViberEmulator | None = None,
                       whatsapp: WhatsAppEmulator | None = None, messenger: MessengerEmulator | None = None,
                       title: str = "civdesk sandbox") -> FastAPI:
    """All four messengers' APIs in one server; `emulator` is the Telegram one (the first there was)."""
    telegram = emulator if emulator is not None else TelegramEmulator(bots=[DEMO_BOT])
    viber = viber if viber is not None else ViberEmulator(accounts=[VIBER_DEMO])
    whatsapp = whatsapp if whatsapp is not None else WhatsAppEmulator(numbers=[WHATSAPP_DEMO])
    messenger = messenger if messenger is not None else MessengerEmulator()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # Webhook pushes and long polls must run on the serving loop, so bind to it here.
        # (The Viber router brings its own lifespan, which FastAPI runs as well.)
        await telegram.start()
        await whatsapp.start()
        await messenger.start()
        try:
            yield
        finally:
            await messenger.stop()
            await whatsapp.stop()
            await telegram.stop()

    app = FastAPI(title=title, lifespan=lifespan)
    app.state.telegram = telegram
    app.state.viber = viber
    app.state.whatsapp = whatsapp
    app.state.messenger = messenger
    app.include_router(bot_api_router(telegram))
    app.include_router(control_router(telegram))
    app.include_router(create_viber_router(viber))
    # Messenger's literal /{version}/me/... paths go before WhatsApp's /{version}/{phone_number_id}/...
    app.include_router(create_messenger_router(messenger))
    app.include_router(create_whatsapp_router(whatsapp))

    @app.get("/", include_in_schema=False)
    def citizen_page() -> FileResponse:
        return FileResponse(WEB_DIR / "index.html", media_type="text/html", headers=_PAGE_HEADERS)

    app.mount("/sandbox/static", StaticFiles(directory=WEB_DIR), name="sandbox-static")
    return app
