"""create_app(): the one place that wires routers, error handlers, the bus and background workers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from civdesk import __version__
from civdesk.agent.routes import router as agent_router
from civdesk.channel.routes import router as webhook_router
from civdesk.channels import registry
from civdesk.config import Settings, get_settings
from civdesk.console.routes import router as console_router
from civdesk.contact.routes import router as contact_router
from civdesk.conversation.polling import Poller
from civdesk.conversation.routes import router as conversation_router
from civdesk.core import redact, validation
from civdesk.core.errors import CivdeskError
from civdesk.db.session import POSTGRES_POOL_SIZE, create_engine_for, create_sessionmaker
from civdesk.delivery.pacing import LocalPacer, RedisPacer
from civdesk.delivery.worker import DeliveryWorker
from civdesk.files.routes import router as files_router
from civdesk.files.service import Files
from civdesk.knowledge.routes import router as knowledge_router
from civdesk.presence.routes import router as presence_router
from civdesk.presence.service import PresenceSweeper
from civdesk.realtime import bus as bus_module
from civdesk.realtime.routes import router as realtime_router
from civdesk.routing import service as routing_service
from civdesk.routing.routes import router as routing_router
from civdesk.timer.worker import TimerWorker
from civdesk.webchat.routes import router as webchat_router

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "web" / "static"


async def make_bus(settings: Settings) -> bus_module.Bus:
    if settings.redis_url:
        bus = bus_module.RedisBus(settings.redis_url)
        await bus.start()
        return bus
    return bus_module.MemoryBus()


def make_files(settings: Settings) -> Files:
    return Files(root=settings.files_dir, max_bytes=settings.max_file_bytes, secret_key=settings.secret_key)


def make_worker(settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], files: Files) -> DeliveryWorker:
    """One delivery worker, paced through Redis when several processes share the platforms' budgets."""
    return DeliveryWorker(
        sessionmaker=sessionmaker,
        files=files,
        public_url=settings.public_url,
        pacer=RedisPacer(settings.redis_url) if settings.redis_url else LocalPacer(),
        max_attempts=settings.delivery_max_attempts,
        poll_seconds=settings.delivery_poll_seconds,
        # Within the pool, leaving the rest to the web requests or the poller that share the engine.
        db_concurrency=1 if settings.is_sqlite else POSTGRES_POOL_SIZE // 4,
    )


def make_timer_worker(sessionmaker: async_sessionmaker[AsyncSession]) -> TimerWorker:
    """Fires routing's timers (queue decisions, reassignment, response targets) in this process."""
    return TimerWorker(sessionmaker=sessionmaker, handlers=routing_service.handlers())


def create_app(settings: Settings | None = None, *, run_workers: bool | None = None) -> FastAPI:
    settings = settings or get_settings()
    redact.install("uvicorn.access", "uvicorn.error", "civdesk", "aiogram", "aiohttp.access", "httpx")
    workers_here = settings.embedded_worker if run_workers is None else run_workers

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine_for(settings.database_url)
        app.state.engine = engine
        app.state.sessionmaker = create_sessionmaker(engine)
        bus = await make_bus(settings)
        bus_module.install(bus)
        stop = asyncio.Event()
        tasks: list[asyncio.Task[None]] = []
        # In every web process (the consoles' sockets live there); concurrent sweepers are safe.
        sweeper = PresenceSweeper(sessionmaker=app.state.sessionmaker, grace_seconds=settings.presence_grace_seconds)
        tasks.append(asyncio.create_task(sweeper.run(stop), name="presence-sweeper"))
        if workers_here:
            worker = make_worker(settings, app.state.sessionmaker, app.state.files)
            tasks.append(asyncio.create_task(worker.run(stop), name="delivery-worker"))
            timers = make_timer_worker(app.state.sessionmaker)
            tasks.append(asyncio.create_task(timers.run(stop), name="timer-worker"))
            tasks.append(asyncio.create_task(Poller(sessionmaker=app.state.sessionmaker).run(stop), name="poller"))
        try:
            yield
        finally:
            stop.set()
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            await registry.close_all()
            await bus.close()
            await engine.dispose()

    app = FastAPI(
        title="civdesk",
        version=__version__,
        lifespan=lifespan,
        description="Agent API v1: conversations, replies, realtime events (websocket /api/v1/ws).",
    )
    app.state.settings = settings
    app.state.files = make_files(settings)
    _install_error_handlers(app)
    for router in (agent_router, conversation_router, files_router, webhook_router, realtime_router, webchat_router):
        app.include_router(router)
    app.include_router(presence_router)
    app.include_router(routing_router)
    app.include_router(knowledge_router)
    app.include_router(contact_router)
    app.include_router(console_router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    return app


def _prefers_ukrainian(request: Request) -> bool:
    accept = request.headers.get("accept-language", "uk")
    return not accept.lower().startswith("en")


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(CivdeskError)
    async def civdesk_error(request: Request, exc: CivdeskError) -> JSONResponse:
        message = exc.message_uk if _prefers_ukrainian(request) else exc.message_en
        error: dict[str, Any] = {"code": exc.code, "message": message, "message_en": exc.message_en}
        field = exc.details.get("field")
        if isinstance(field, str):  # about one field of the request: the same shape as a validation problem
            error["problems"] = [{"field": f"body.{field}", "message": message, "message_en": exc.message_en}]
        body = {"error": error}
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse(body, status_code=exc.status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        ukrainian = _prefers_ukrainian(request)
        problems = []
        for err in exc.errors():
            described = validation.problem(err)
            problems.append({**described, "message": described["message" if ukrainian else "message_en"]})
        body = {
            "error": {
                "code": "invalid_input",
                "message": "некоректні дані запиту" if ukrainian else "invalid request",
                "message_en": "invalid request",
                "problems": problems,
            }
        }
        return JSONResponse(body, status_code=422)
