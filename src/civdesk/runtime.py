"""Long-running processes: the web server as `civdesk serve` runs it, the distributed worker and the
all-in-one demo."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Coroutine
from typing import Any, TypeVar

import uvicorn
from fastapi import FastAPI
from uvicorn.loops.auto import auto_loop_factory

from civdesk import demo as demo_data
from civdesk.app import create_app, make_bus, make_files, make_timer_worker, make_worker
from civdesk.channel import service as channel_service
from civdesk.channels import registry
from civdesk.config import Settings
from civdesk.conversation.polling import Poller
from civdesk.core import heap
from civdesk.db.session import create_engine_for, create_sessionmaker
from civdesk.realtime import bus as bus_module
from civdesk.sandbox.app import create_sandbox_app
from civdesk.sandbox.messenger import MessengerEmulator, PageSpec
from civdesk.sandbox.telegram.emulator import TelegramEmulator
from civdesk.sandbox.viber import AccountSpec, ViberEmulator
from civdesk.sandbox.whatsapp import NumberSpec, WhatsAppEmulator


def serving_app(settings: Settings | None = None, *, run_workers: bool | None = None) -> FastAPI:
    """The web app as `civdesk serve` runs it: created, then ready to serve (see `ready_to_serve`)."""
    app = create_app(settings, run_workers=run_workers)
    ready_to_serve()
    return app


def ready_to_serve() -> None:
    """Before a long-running process serves: every channel adapter loaded, then the heap settled."""
    registry.load_all()
    heap.settle()


_T = TypeVar("_T")


def run(main: Coroutine[Any, Any, _T]) -> _T:
    """Runs a long-running command on the event loop `civdesk serve` gets from uvicorn: uvloop where it is
    installed. A worker's decisions and deliveries are database round trips, each several turns of the
    loop; on uvloop a PostgreSQL routing decision took 4.9 ms at the median instead of 6.8 ms."""
    with asyncio.Runner(loop_factory=auto_loop_factory(use_subprocess=False)) as runner:
        return runner.run(main)


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)


async def run_worker(settings: Settings) -> None:
    """A `civdesk worker` process: delivery jobs, timers and long-polling channels, until SIGTERM."""
    engine = create_engine_for(settings.database_url)
    sessionmaker = create_sessionmaker(engine)
    bus = await make_bus(settings)
    bus_module.install(bus)
    stop = asyncio.Event()
    _stop_on_signals(stop)
    worker = make_worker(settings, sessionmaker, make_files(settings))
    ready_to_serve()
    try:
        await asyncio.gather(
            worker.run(stop), make_timer_worker(sessionmaker).run(stop), Poller(sessionmaker=sessionmaker).run(stop)
        )
    finally:
        await registry.close_all()
        await bus.close()
        await engine.dispose()


async def _wait_started(server: uvicorn.Server) -> None:
    # uvicorn exposes no event for "listening"; its `started` flag is the documented signal.
    while not server.started:  # noqa: ASYNC110
        await asyncio.sleep(0.05)


async def run_demo(settings: Settings, *, host: str, port: int, sandbox_port: int) -> None:
    """Server + messenger sandbox with demo agencies, bots wired to webhooks; prints where to go."""
    sandbox_url = f"http://{host}:{sandbox_port}"
    server_url = f"http://{host}:{port}"
    engine = create_engine_for(settings.database_url)
    async with create_sessionmaker(engine)() as session:
        channel_ids = await demo_data.seed(session=session, sandbox_url=sandbox_url)
        channels = {
            slug: await channel_service.get(session=session, channel_id=cid) for slug, cid in channel_ids.items()
        }
    await engine.dispose()

    emulator = TelegramEmulator()
    for bot in demo_data.BOTS:
        emulator.add_bot(token=bot.token, username=bot.username, first_name=bot.title)
    messenger = MessengerEmulator(
        pages=[
            PageSpec(
                page_id=demo_data.MESSENGER["page_id"],
                name="Мінсоцполітики",
                token=demo_data.MESSENGER["page_token"],
                app_secret=demo_data.MESSENGER["app_secret"],
            )
        ]
    )
    sandbox_app = create_sandbox_app(
        emulator=emulator,
        viber=ViberEmulator(accounts=[AccountSpec(token=demo_data.VIBER_TOKEN, name="Мінсоцполітики", uri="minsoc")]),
        whatsapp=WhatsAppEmulator(
            numbers=[
                NumberSpec(
                    phone_number_id=demo_data.WHATSAPP["phone_number_id"],
                    display_phone_number=demo_data.WHATSAPP["display"],
                    verified_name="Мінсоцполітики",
                    token=demo_data.WHATSAPP["token"],
                    app_secret=demo_data.WHATSAPP["app_secret"],
                )
            ]
        ),
        messenger=messenger,
    )
    sandbox = uvicorn.Server(uvicorn.Config(sandbox_app, host=host, port=sandbox_port, log_level="warning"))
    server = uvicorn.Server(uvicorn.Config(serving_app(settings), host=host, port=port, log_level="warning"))
    serving = asyncio.gather(sandbox.serve(), server.serve())
    await asyncio.wait_for(asyncio.gather(_wait_started(sandbox), _wait_started(server)), timeout=30)

    for channel in channels.values():
        url = f"{server_url}{channel_service.webhook_path(channel)}"
        await channel_service.adapter(channel).register_webhook(account=channel_service.account(channel), url=url)
        if channel.type == "messenger":  # Messenger's callback URL is set in Meta's App Dashboard
            await asyncio.to_thread(
                messenger.set_webhook,
                page_id=demo_data.MESSENGER["page_id"],
                url=url,
                verify_token=demo_data.MESSENGER["verify_token"],
            )
    _print_banner(server_url=server_url, sandbox_url=sandbox_url)
    await serving


def _print_banner(*, server_url: str, sandbox_url: str) -> None:
    agents = "\n".join(f"    {email:<22} {role:<10} {region}" for _, email, _, role, region in demo_data.AGENTS)
    print(
        f"""
civdesk demo is running.

  Citizen, in Telegram (sandbox):  {sandbox_url}/
  … in Viber, WhatsApp, Messenger: {sandbox_url}/sandbox/viber/  /sandbox/whatsapp/  /sandbox/messenger/
  Citizen, in the web chat:        {server_url}/chat/minsoc   and   {server_url}/chat/pfu
  Agent console (browser):         {server_url}/console
  Agent API (OpenAPI):             {server_url}/docs
  Health:                          {server_url}/healthz

  Agents (password: {demo_data.DEMO_PASSWORD}):
{agents}

  Answer as an agent:
    TOKEN=$(curl -s -X POST {server_url}/api/v1/auth/login -H 'content-type: application/json' \\
      -d '{{"email":"olena@minsoc.demo","password":"{demo_data.DEMO_PASSWORD}"}}' \\
      | python3 -c 'import json,sys;print(json.load(sys.stdin)["access_token"])')
    curl -s {server_url}/api/v1/conversations -H "authorization: Bearer $TOKEN"
    curl -s -X POST {server_url}/api/v1/conversations/1/messages -H "authorization: Bearer $TOKEN" \\
      -H 'content-type: application/json' -d '{{"text":"Добрий день! Чим можу допомогти?"}}'

Press Ctrl+C to stop.
""",
        flush=True,
    )
