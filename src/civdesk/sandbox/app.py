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

from civdesk.sandbox.telegram.emulator import BotSpec, TelegramEmulator
from civdesk.sandbox.telegram.routes import bot_api_router, control_router

WEB_DIR = Path(__file__).parent / "web"
# Lets a newcomer open the page and chat at once; real setups pass their own emulator and bots.
DEMO_BOT = BotSpec(token="1000001:civdesk-sandbox-demo", username="civdesk_demo_bot",
                   first_name="Держслужба (демо)")
# The page loads only its own files and talks only to this server.
_PAGE_HEADERS = {"Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'",
                 "X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"}


def create_sandbox_app(*, emulator: TelegramEmulator | None = None,
                       title: str = "civdesk sandbox") -> FastAPI:
    telegram = emulator if emulator is not None else TelegramEmulator(bots=[DEMO_BOT])

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # Webhook pushes and long polls must run on the serving loop, so bind to it here.
        await telegram.start()
        try:
            yield
        finally:
            await telegram.stop()

    app = FastAPI(title=title, lifespan=lifespan)
    app.state.telegram = telegram
    app.include_router(bot_api_router(telegram))
    app.include_router(control_router(telegram))

    @app.get("/", include_in_schema=False)
    def citizen_page() -> FileResponse:
        return FileResponse(WEB_DIR / "index.html", media_type="text/html", headers=_PAGE_HEADERS)

    app.mount("/sandbox/static", StaticFiles(directory=WEB_DIR), name="sandbox-static")
    return app
