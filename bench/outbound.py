"""Outbound delivery: a backlog of queued replies on four messengers, drained by civdesk's delivery workers.

    eval "$(bash scripts/test-services.sh start)"     # PostgreSQL + Redis on 127.0.0.1 (for "distributed")
    .venv/bin/python bench/outbound.py [--modes embedded,distributed] [--messages 10000] [--workers 2]

For each mode, on a fresh database and fresh emulators:

* Four platform emulators from civdesk.sandbox (Telegram, Viber, WhatsApp, Messenger), each in its own
  process under uvicorn (`python -m uvicorn --factory outbound:emulator_app`). Every citizen a reply goes
  to has written to the bot first (so Viber counts them as subscribed, WhatsApp's and Messenger's 24-hour
  windows are open, Telegram knows the chat). The WhatsApp emulator's own throughput check is set far
  above 80/s: this bench checks the pace itself (peak sends in any 1 s, gaps per recipient).
* An agency with one channel per platform pointing at its emulator (civdesk's services), then the backlog
  inserted directly with Core in one transaction: contacts, identities, open conversations, `--messages`
  outbound messages (status queued) and one delivery job each, all due now. Messages are split across the
  channels in proportion to each platform's configured rate (so every channel needs the same time at its
  rate, about 71 s for 10,000), interleaved at random (seeded) as replies from many agents would be; within
  a channel they go round-robin over enough citizens (≥ 2 × rate × per-recipient interval) that the
  per-recipient limits cannot cap the channel.
* The workers start only then:
  - embedded: `civdesk serve` on SQLite (its in-process delivery worker, LocalPacer, in-memory bus);
  - distributed: `--workers` × `civdesk worker` on PostgreSQL + Redis (RedisPacer shared by all).
* The bench polls the job table until every job is settled, stops the workers, and reads what each emulator
  recorded (recipient, text, time, platform id) and what civdesk recorded (job and message status,
  platform_key).

Per channel it prints the achieved msg/s over the steady part (the middle 80 % of that channel's sends, by
the emulator's clock) against the configured `messages_per_second` (ratio, goal ≥ 0.95), zero lost (every
marked message recorded by its emulator, with civdesk's platform_key matching the emulator's id, the job
done and the message sent) and zero duplicated sends (no marker recorded twice). Beside it: the raw
capacity of adapter + emulator without civdesk (closed loop, 16 concurrent sends), to show the emulators
are not the bottleneck. It also prints the worker CPU per message, the cores the workers, PostgreSQL, the
emulators and other work kept busy, and why jobs were retried (civdesk's own retry reasons, and jobs that
crashed in a worker, from its log). It exits 0 whether or not the goals are met: it is a measurement. Only
127.0.0.1 is contacted.

`--what-if` (experiments only) runs the workers through civdesk.runtime.run_worker with some parameters
changed in that process (batch size, concurrency, max pacing wait, lease, preloaded adapters, a refilling
loop, scaled rates), to test why a goal is missed without editing src/. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import re
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import Table, create_engine, func, insert, select
from sqlalchemy.engine import Engine

from civdesk.channels import registry
from civdesk.channels.base import ChannelAccount, OutboundMessage
from civdesk.core.clock import now
from civdesk.db.session import create_engine_for, create_sessionmaker, sync_url
from common import (
    HOST,
    Proc,
    background_load,
    free_port,
    fresh_database,
    machine_busy_seconds,
)

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
SECRET_KEY = "bench-secret-key-for-civdesk-outbound-0123456789"
GOAL_RATIO = 0.95
PLATFORMS = ("telegram", "viber", "whatsapp", "messenger")
SHORT = {"telegram": "tg", "viber": "vb", "whatsapp": "wa", "messenger": "fb"}
MARKER = re.compile(r"#(?:ob|raw)-[0-9a-z]+-[a-z]{2}-\d+#")

# The accounts in the emulators; civdesk's channels carry the same credentials.
TELEGRAM_TOKEN = "5005:bench-telegram-token"
TELEGRAM_SECRET = "bench_webhook-secret"
VIBER_TOKEN = "bench-viber-token-0123456789abcdef"
WA_PHONE_ID = "106540352242999"
WA_TOKEN = "EAAG-bench-whatsapp-token"
WA_APP_SECRET = "bench-whatsapp-app-secret"
FB_PAGE_ID = "104000000000099"
FB_TOKEN = "EAAB-bench-page-token"
FB_APP_SECRET = "bench-messenger-app-secret"
VERIFY_TOKEN = "bench-verify-token"
SENDER_NAME = "Мінбенчмарк"
# Citizens the raw-capacity probe writes to: never the run's own, so their per-recipient budgets stay whole.
PROBE_RECIPIENTS = 300
PROBE_OFFSET = 900_000
# Viber allows 100 unanswered messages per citizen per hour; keep each citizen's share well under it.
VIBER_PER_CITIZEN = 80

REPLIES = (
    "Добрий день! Вашу заяву на субсидію прийнято, рішення надійде протягом 10 робочих днів.",
    "Дякуємо за звернення. Для перерахунку пенсії потрібні довідка про доходи і копія паспорта.",
    "Записати вас на прийом можна онлайн: оберіть зручний час у розділі «Прийом».",
    "Допомогу ВПО нараховано, кошти надійдуть на рахунок до кінця місяця.",
    "Уточніть, будь ласка, номер вашої справи — ми перевіримо статус.",
)


def recipient_id(platform: str, index: int) -> str:
    """A platform-shaped citizen id: Telegram chat id, Viber user id, WhatsApp wa_id, Messenger PSID."""
    if platform == "telegram":
        return str(710_000_000 + index)
    if platform == "viber":
        return f"b{index:07d}QmVuY2g+/w=="
    if platform == "whatsapp":
        return str(380_500_000_000 + index)
    return str(7_200_000_000_000_000 + index)


# --------------------------------------------------------------------------------------------------
# The emulator process: one platform's sandbox under uvicorn, plus a few bench routes.
# --------------------------------------------------------------------------------------------------


def _make_emulator(platform: str) -> tuple[Any, Any]:
    if platform == "telegram":
        from civdesk.sandbox.telegram import BotSpec, TelegramEmulator
        from civdesk.sandbox.telegram.routes import bot_api_router

        telegram = TelegramEmulator(bots=[BotSpec(token=TELEGRAM_TOKEN, username="minbench_bot",
                                                  first_name=SENDER_NAME)])
        return telegram, bot_api_router(telegram)
    if platform == "viber":
        from civdesk.sandbox.viber import AccountSpec, ViberEmulator
        from civdesk.sandbox.viber import create_router as viber_router

        viber = ViberEmulator(accounts=[AccountSpec(VIBER_TOKEN, SENDER_NAME, "minbench")])
        return viber, viber_router(viber)
    if platform == "whatsapp":
        from civdesk.sandbox.whatsapp import NumberSpec, WhatsAppEmulator
        from civdesk.sandbox.whatsapp import create_router as whatsapp_router

        # The emulator refuses with 130429 once 80 sends fall within any sliding second, so sends paced at
        # exactly 80/s with a few ms of jitter would be refused now and then. It is set far above that; the
        # bench measures the peak per second itself. The pair limit stays as documented (45, then 1 per 6 s).
        whatsapp = WhatsAppEmulator(numbers=[NumberSpec(phone_number_id=WA_PHONE_ID, display_phone_number="15550009999",
                                                        verified_name=SENDER_NAME, token=WA_TOKEN,
                                                        app_secret=WA_APP_SECRET)],
                                    messages_per_second=100_000)
        return whatsapp, whatsapp_router(whatsapp)
    if platform == "messenger":
        from civdesk.sandbox.messenger import MessengerEmulator, PageSpec
        from civdesk.sandbox.messenger import create_router as messenger_router

        messenger = MessengerEmulator(pages=[PageSpec(page_id=FB_PAGE_ID, name=SENDER_NAME, token=FB_TOKEN,
                                                      app_secret=FB_APP_SECRET, subscribed=True)])
        return messenger, messenger_router(messenger)
    raise ValueError(f"unknown platform {platform!r}")


def _recorded_sends(platform: str, emulator: Any) -> list[dict[str, Any]]:
    """What the emulator recorded, in one shape: recipient, text, time, and the id civdesk should store."""
    out: list[dict[str, Any]] = []
    if platform == "telegram":
        for s in emulator.sent(token=TELEGRAM_TOKEN):
            if s.get("method") == "sendMessage":
                out.append({"to": str(s["chat_id"]), "text": s.get("text") or "", "time": s["time"],
                            "key": f"{s['chat_id']}:{s['message_id']}"})
    elif platform == "viber":
        for s in emulator.sent(token=VIBER_TOKEN):
            if s.get("method") == "send_message":
                out.append({"to": s["receiver"], "text": s["body"].get("text") or "", "time": s["time"],
                            "key": str(s["message_token"])})
    elif platform == "whatsapp":
        for s in emulator.sent(phone_number_id=WA_PHONE_ID):
            out.append({"to": s["to"], "text": s.get("text") or "", "time": s["time"], "key": s["wamid"]})
    else:
        from civdesk.channels.messenger.parse import bounded_key

        for s in emulator.sent(page_id=FB_PAGE_ID):
            out.append({"to": s["psid"], "text": (s.get("message") or {}).get("text") or "", "time": s["time"],
                        "key": bounded_key(s["message_id"])})
    return out


async def _citizens_write(platform: str, emulator: Any, citizens: list[str], sink: str) -> None:
    """Each citizen writes first: the chat exists, the citizen is subscribed, the 24-hour window is open."""
    text = "Добрий день, маю питання щодо виплат"
    for cid in citizens:
        if platform == "telegram":
            emulator.citizen_says(token=TELEGRAM_TOKEN, chat_id=int(cid), text=text)
        elif platform == "viber":
            emulator.citizen_says(token=VIBER_TOKEN, user_id=cid, text=text)
        elif platform == "whatsapp":
            emulator.citizen_says(phone_number_id=WA_PHONE_ID, wa_id=cid, text=text)
        else:
            emulator.citizen_says(page_id=FB_PAGE_ID, psid=cid, text=text)
    if platform == "viber":
        # Viber refuses send_message without a webhook. The bench's sink answers 200; no receipt events are
        # subscribed (event_types=[]), so the emulator does not push a `delivered` callback per send.
        await emulator.set_webhook(VIBER_TOKEN, url=sink, event_types=[], send_name=True, send_photo=False)


def emulator_app() -> FastAPI:
    """uvicorn --factory target: the sandbox of $BENCH_PLATFORM, with /bench/setup, /bench/sends, /bench/sink."""
    platform = os.environ["BENCH_PLATFORM"]
    emulator, router = _make_emulator(platform)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await emulator.start()
        try:
            yield
        finally:
            await emulator.stop()

    app = FastAPI(title=f"bench {platform} emulator", lifespan=lifespan)
    app.include_router(router)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/bench/sink")
    async def sink() -> JSONResponse:
        return JSONResponse({})

    @app.post("/bench/setup")
    async def setup(request: Request) -> JSONResponse:
        body = await request.json()
        await _citizens_write(platform, emulator, [str(c) for c in body["citizens"]], str(body["sink"]))
        return JSONResponse({"ok": True, "citizens": len(body["citizens"])})

    @app.get("/bench/sends")
    async def sends() -> JSONResponse:
        return JSONResponse(_recorded_sends(platform, emulator))

    return app


# --------------------------------------------------------------------------------------------------
# Processes.
# --------------------------------------------------------------------------------------------------


def _stat_fields(pid: int | str) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def postgres_cpu_seconds(engine: Engine) -> float:
    """CPU so far of the PostgreSQL server behind `engine`: the postmaster, its live children (backends,
    walwriter, …) and the children it has reaped (closed connections), from /proc. NaN if it cannot be read
    (a server on another machine, or no permission for `SHOW data_directory`)."""
    from sqlalchemy import text

    try:
        with engine.connect() as conn:
            data_dir = conn.execute(text("SHOW data_directory")).scalar_one()
        postmaster = int(Path(str(data_dir), "postmaster.pid").read_text().split()[0])
        own = _stat_fields(postmaster)
        ticks = sum(int(own[i]) for i in (11, 12, 13, 14))  # utime, stime, cutime, cstime
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError, IndexError, ValueError):
                    fields = _stat_fields(entry.name)
                    if int(fields[1]) == postmaster:
                        ticks += int(fields[11]) + int(fields[12])
        return ticks / os.sysconf("SC_CLK_TCK")
    except Exception:
        return math.nan


def child_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CIVDESK_", "BENCH_"))}
    # A PYTHONPATH given to the bench comes first (e.g. a snapshot of src/ while others edit the tree).
    env["PYTHONPATH"] = os.pathsep.join(p for p in (env.get("PYTHONPATH"), str(REPO / "src")) if p)
    env.update(extra)
    return env


def start_emulator(platform: str, workdir: Path) -> Proc:
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "--factory", "outbound:emulator_app", "--app-dir", str(BENCH_DIR),
               "--host", HOST, "--port", str(port), "--log-level", "warning", "--no-access-log"]
    proc = Proc(f"{platform} emulator", command, env=child_env({"BENCH_PLATFORM": platform}),
                log_path=workdir / f"emulator-{platform}.log", port=port, stop_signal=signal.SIGINT)
    proc.start()
    return proc


# --------------------------------------------------------------------------------------------------
# The plan: how many replies per channel, to whom, in which order.
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    rate: float  # messages_per_second, per account
    recipient_interval: float  # 1 / per_recipient_per_second


def platform_limits(rate_scale: float = 1.0) -> dict[str, Limits]:
    """Read from the adapters, as the workers pace by them."""
    out = {}
    for platform in PLATFORMS:
        limits = registry.get(platform).limits
        out[platform] = Limits(float(limits.messages_per_second) * rate_scale,
                               1.0 / float(limits.per_recipient_per_second))
    return out


@dataclass
class Plan:
    tag: str
    counts: dict[str, int]
    recipients: dict[str, list[str]]
    order: list[tuple[str, int]]  # (platform, k): the k-th reply of that channel, in insertion (= id) order
    limits: dict[str, Limits]

    def marker(self, platform: str, k: int) -> str:
        return f"#ob-{self.tag}-{SHORT[platform]}-{k}#"

    def recipient(self, platform: str, k: int) -> str:
        citizens = self.recipients[platform]
        return citizens[k % len(citizens)]

    @property
    def expected_seconds(self) -> float:
        return max(self.counts[p] / self.limits[p].rate for p in PLATFORMS if self.counts[p])


def make_plan(*, tag: str, total: int, mix: str, seed: int, limits: dict[str, Limits]) -> Plan:
    # Proportional to the configured rates: every channel needs the same time at its rate.
    weights = {p: 1.0 if mix == "equal" else limits[p].rate for p in PLATFORMS}
    scale = total / sum(weights.values())
    counts = {p: int(weights[p] * scale) for p in PLATFORMS}
    shortfall = total - sum(counts.values())
    for p in sorted(PLATFORMS, key=lambda p: weights[p] * scale - counts[p], reverse=True)[:shortfall]:
        counts[p] += 1
    recipients: dict[str, list[str]] = {}
    for p in PLATFORMS:
        needed = max(20, math.ceil(2 * limits[p].rate * limits[p].recipient_interval))
        if p == "viber":
            needed = max(needed, math.ceil(counts[p] / VIBER_PER_CITIZEN))
        recipients[p] = [recipient_id(p, i) for i in range(needed)]
    order = [(p, k) for p in PLATFORMS for k in range(counts[p])]
    rng = random.Random(seed)
    rng.shuffle(order)
    # The shuffle mixes channels; within a channel keep k ascending, so the round-robin over citizens holds.
    next_k = dict.fromkeys(PLATFORMS, 0)
    ordered = []
    for p, _ in order:
        ordered.append((p, next_k[p]))
        next_k[p] += 1
    return Plan(tag=tag, counts=counts, recipients=recipients, order=ordered, limits=limits)


# --------------------------------------------------------------------------------------------------
# The database: a fresh one per mode, the world seeded through civdesk's services, the backlog with Core.
# --------------------------------------------------------------------------------------------------


@dataclass
class World:
    agency_id: int
    agent_id: int
    channels: dict[str, int]  # platform -> channel id
    accounts: dict[str, ChannelAccount]


def channel_settings(platform: str, api_base: str) -> tuple[dict[str, Any], dict[str, Any]]:
    if platform == "telegram":
        return {"api_base": api_base}, {"token": TELEGRAM_TOKEN, "secret": TELEGRAM_SECRET}
    if platform == "viber":
        return {"api_base": api_base, "sender_name": SENDER_NAME}, {"token": VIBER_TOKEN}
    if platform == "whatsapp":
        return ({"api_base": api_base, "api_version": "v21.0", "phone_number_id": WA_PHONE_ID},
                {"token": WA_TOKEN, "app_secret": WA_APP_SECRET, "verify_token": VERIFY_TOKEN})
    return ({"api_base": api_base, "api_version": "v21.0", "page_id": FB_PAGE_ID},
            {"page_token": FB_TOKEN, "app_secret": FB_APP_SECRET, "verify_token": VERIFY_TOKEN})


async def seed_world(url: str, emulators: dict[str, Proc]) -> World:
    """One agency, one agent, one channel per platform pointing at its emulator (civdesk's services)."""
    from civdesk.agency import service as agency_service
    from civdesk.agent import service as agent_service
    from civdesk.channel import service as channel_service

    engine = create_engine_for(url)
    try:
        async with create_sessionmaker(engine)() as session:
            agency = await agency_service.create(session=session, slug="minbench", name="Міністерство бенчмарків")
            agent = await agent_service.create(session=session, agency=agency, email="olena@outbound.bench",
                                               password="correct horse battery", name="Олена")
            channels: dict[str, int] = {}
            accounts: dict[str, ChannelAccount] = {}
            for platform in PLATFORMS:
                config, secrets = channel_settings(platform, emulators[platform].url)
                channel = await channel_service.add(session=session, agency=agency, type=platform,
                                                    name=f"bench {platform}", config=config, secrets=secrets)
                channels[platform] = channel.id
                accounts[platform] = channel_service.account(channel)
            await session.commit()
            return World(agency_id=agency.id, agent_id=agent.id, channels=channels, accounts=accounts)
    finally:
        await engine.dispose()


def _tables() -> dict[str, Table]:
    from civdesk.contact.models import Contact, ContactIdentity
    from civdesk.conversation.models import Conversation, Message
    from civdesk.delivery.models import DeliveryJob

    return {name: model.__table__ for name, model in (  # type: ignore[misc]
        ("contact", Contact), ("identity", ContactIdentity), ("conversation", Conversation), ("message", Message),
        ("job", DeliveryJob))}


def _insert_ids(conn: Any, table: Table, rows: list[dict[str, Any]]) -> list[int]:
    statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    return [row[0] for row in conn.execute(statement, rows)]


def insert_backlog(engine: Engine, world: World, plan: Plan) -> float:
    """Citizens with open conversations, then every reply and its delivery job, in one transaction.
    Returns the seconds it took."""
    t = _tables()
    started = time.perf_counter()
    stamp = now()
    with engine.begin() as conn:
        conversation_of: dict[tuple[str, str], int] = {}
        for platform in PLATFORMS:
            citizens = plan.recipients[platform]
            contact_ids = _insert_ids(conn, t["contact"], [
                {"agency_id": world.agency_id, "display_name": f"Громадянин {platform} {i}", "language": "uk",
                 "created_at": stamp} for i in range(len(citizens))])
            conn.execute(insert(t["identity"]), [
                {"contact_id": cid, "channel_id": world.channels[platform], "external_id": ext, "username": None,
                 "is_blocked": False, "created_at": stamp} for cid, ext in zip(contact_ids, citizens, strict=True)])
            conversation_ids = _insert_ids(conn, t["conversation"], [
                {"agency_id": world.agency_id, "channel_id": world.channels[platform], "contact_id": cid,
                 "status": "open", "assignee_id": world.agent_id, "created_at": stamp, "first_response_at": stamp,
                 "last_message_at": stamp} for cid in contact_ids])
            for ext, conversation_id in zip(citizens, conversation_ids, strict=True):
                conversation_of[(platform, ext)] = conversation_id
        message_rows = []
        for n, (platform, k) in enumerate(plan.order):
            message_rows.append({
                "conversation_id": conversation_of[(platform, plan.recipient(platform, k))],
                "agency_id": world.agency_id, "channel_id": world.channels[platform], "direction": "out",
                "author_agent_id": world.agent_id, "text": f"{REPLIES[n % len(REPLIES)]} {plan.marker(platform, k)}",
                "attachments": [], "buttons": [], "template": None, "platform_key": None,
                "delivery_status": "queued", "delivery_error": None, "created_at": stamp,
            })
        message_ids = _insert_ids(conn, t["message"], message_rows)
        conn.execute(insert(t["job"]), [
            {"message_id": mid, "channel_id": row["channel_id"], "kind": "send", "status": "pending", "attempts": 0,
             "due_at": stamp, "last_error": None, "created_at": stamp}
            for mid, row in zip(message_ids, message_rows, strict=True)])
    return time.perf_counter() - started


def job_progress(engine: Engine, channel_platform: dict[int, str]) -> dict[str, Counter[str]]:
    job = _tables()["job"]
    out: dict[str, Counter[str]] = defaultdict(Counter)
    with engine.connect() as conn:
        for channel_id, status, count in conn.execute(
                select(job.c.channel_id, job.c.status, func.count()).group_by(job.c.channel_id, job.c.status)):
            out[channel_platform[channel_id]][status] += count
    return out


@dataclass
class CivdeskState:
    jobs: dict[str, Counter[str]]
    retried: Counter[str]  # jobs with more than one attempt, per platform
    errors: Counter[str]  # "platform: reason" of every retry civdesk told the agent about (message.delivery events)
    messages: dict[str, dict[str, tuple[str, str | None]]]  # platform -> marker -> (delivery_status, platform_key)


def read_state(engine: Engine, channel_platform: dict[int, str]) -> CivdeskState:
    from civdesk.realtime.models import EventRecord

    t = _tables()
    job, message, events = t["job"], t["message"], EventRecord.__table__
    retried: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    messages: dict[str, dict[str, tuple[str, str | None]]] = defaultdict(dict)
    platform_of: dict[int, str] = {}
    with engine.connect() as conn:
        for channel_id, attempts in conn.execute(select(job.c.channel_id, job.c.attempts)):
            if attempts > 1:
                retried[channel_platform[channel_id]] += 1
        for message_id, channel_id, text, status, key in conn.execute(
                select(message.c.id, message.c.channel_id, message.c.text, message.c.delivery_status,
                       message.c.platform_key).where(message.c.direction == "out")):
            platform_of[message_id] = channel_platform[channel_id]
            found = MARKER.search(text or "")
            if found:
                messages[channel_platform[channel_id]][found.group(0)] = (status, key)
        # A retry is told to the agent as a message.delivery event carrying the reason (note_retry).
        for (payload,) in conn.execute(select(events.c.payload).where(events.c.type == "message.delivery")):
            shown = (payload or {}).get("message") or {}
            if shown.get("delivery_error"):
                where = platform_of.get(shown.get("id"), "?")
                errors[f"{where}: {str(shown['delivery_error'])[:90]}"] += 1
    return CivdeskState(jobs=job_progress(engine, channel_platform), retried=retried, errors=errors,
                        messages=messages)


# --------------------------------------------------------------------------------------------------
# The raw capacity of adapter + emulator, without civdesk.
# --------------------------------------------------------------------------------------------------


async def raw_capacity(platform: str, account: ChannelAccount, *, seconds: float,
                       concurrency: int) -> tuple[float, int]:
    """civdesk's adapter in a closed loop straight at the emulator (no database, no pacing): msg/s, failures."""
    adapter = registry.get(platform)
    citizens = [recipient_id(platform, PROBE_OFFSET + i) for i in range(PROBE_RECIPIENTS)]
    sent = failed = 0
    counter = 0
    deadline = time.perf_counter() + seconds

    async def loop() -> None:
        nonlocal sent, failed, counter
        while time.perf_counter() < deadline:
            counter += 1
            n = counter
            message = OutboundMessage(recipient_external_id=citizens[n % len(citizens)],
                                      text=f"{REPLIES[n % len(REPLIES)]} #raw-p-{SHORT[platform]}-{n}#")
            try:
                await adapter.send(account=account, message=message)
                sent += 1
            except Exception:
                failed += 1

    started = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(concurrency)))
    return sent / (time.perf_counter() - started), failed


# --------------------------------------------------------------------------------------------------
# Measuring one mode.
# --------------------------------------------------------------------------------------------------


@dataclass
class ChannelResult:
    platform: str
    limits: Limits
    planned: int
    recipients: int
    recorded: int = 0  # emulator records carrying one of this run's markers
    distinct: int = 0
    lost: int = 0  # planned markers the emulator never recorded, though civdesk no longer has them queued
    duplicated: int = 0  # records beyond the first of a marker
    unexpected: int = 0  # markers the plan does not know
    not_sent_in_civdesk: int = 0  # recorded by the emulator, yet not sent/delivered in civdesk
    unfinished: int = 0  # still queued, never recorded, when the bench stopped (a timeout): not counted as lost
    key_mismatch: int = 0  # civdesk's platform_key differs from the emulator's id for that send
    jobs: Counter[str] = field(default_factory=Counter)
    retried: int = 0
    steady_rate: float = math.nan
    overall_rate: float = math.nan
    first_send: float = math.nan  # seconds after the workers were started
    last_send: float = math.nan
    peak_1s: int = 0
    min_recipient_gap: float = math.nan
    recipient_gaps_short: int = 0  # gaps below 90 % of the per-recipient interval
    buckets: list[float] = field(default_factory=list)
    raw_rate: float = math.nan
    raw_failed: int = 0

    @property
    def ratio(self) -> float:
        return self.steady_rate / self.limits.rate if self.limits.rate else math.nan

    @property
    def rate_ok(self) -> bool:
        return not math.isnan(self.ratio) and self.ratio >= GOAL_RATIO

    @property
    def lost_total(self) -> int:
        return self.lost + self.not_sent_in_civdesk + self.key_mismatch


@dataclass
class ModeReport:
    mode: str
    backend: str
    workers: int
    plan: Plan | None = None
    channels: dict[str, ChannelResult] = field(default_factory=dict)
    skipped: str | None = None
    insert_seconds: float = math.nan
    drain_seconds: float = math.nan  # worker start -> last send
    finished: bool = False
    worker_cpu: float = math.nan
    emulator_cpu: float = math.nan
    machine_busy: float = math.nan
    bench_cpu: float = math.nan
    database_cpu: float = math.nan

    @property
    def other_cpu(self) -> float:
        """Cores busy with work that is not this run's (other processes on the machine)."""
        ours = self.worker_cpu + self.emulator_cpu + self.bench_cpu + (0.0 if math.isnan(self.database_cpu)
                                                                        else self.database_cpu)
        return max(0.0, self.machine_busy - ours)
    errors: Counter[str] = field(default_factory=Counter)
    crashes: Counter[str] = field(default_factory=Counter)  # jobs that escaped the worker with an exception
    worker_cpu_seconds: float = math.nan
    worker_cpu_ms_steady: float = math.nan  # between 10 % and 90 % of the jobs settled: no start-up imports
    what_if: str = ""

    @property
    def worker_cpu_ms(self) -> float:
        """Worker CPU per message recorded by the emulators, over the whole run of the worker processes."""
        sent = sum(c.recorded for c in self.channels.values())
        return self.worker_cpu_seconds * 1000 / sent if sent else math.nan


def steady_cpu_ms(samples: list[tuple[int, float]], total: int) -> float:
    """Worker CPU per settled job between the samples at 10 % and at 90 % of the jobs settled."""
    inside = [s for s in samples if 0.1 * total <= s[0] <= 0.9 * total]
    if len(inside) < 2 or inside[-1][0] == inside[0][0]:
        return math.nan
    return (inside[-1][1] - inside[0][1]) * 1000 / (inside[-1][0] - inside[0][0])


def steady_rate(times: list[float], trim: float) -> float:
    """Sends per second between the send at the `trim` quantile and the one at 1 - `trim`."""
    if len(times) < 10:
        return math.nan
    lo = int(len(times) * trim)
    hi = len(times) - 1 - lo
    span = times[hi] - times[lo]
    return (hi - lo) / span if span > 0 else math.nan


def peak_in_window(times: list[float], window: float = 1.0) -> int:
    best = start = 0
    for end, t in enumerate(times):
        while t - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


def analyse(plan: Plan, sends: dict[str, list[dict[str, Any]]], state: CivdeskState, *, t0: float,
            trim: float, bucket: float) -> dict[str, ChannelResult]:
    results = {}
    for platform in PLATFORMS:
        limits = plan.limits[platform]
        result = ChannelResult(platform, limits, plan.counts[platform], len(plan.recipients[platform]))
        expected = {plan.marker(platform, k) for k in range(plan.counts[platform])}
        prefix = f"#ob-{plan.tag}-"
        ours = []
        for s in sends[platform]:
            found = MARKER.search(s["text"])
            if found and found.group(0).startswith(prefix):
                ours.append((found.group(0), s))
        markers = Counter(m for m, _ in ours)
        result.recorded = len(ours)
        result.distinct = len(markers)
        result.duplicated = sum(c - 1 for c in markers.values() if c > 1)
        result.unexpected = len(set(markers) - expected)
        result.jobs = state.jobs.get(platform, Counter())
        result.retried = state.retried.get(platform, 0)
        key_of = {m: s["key"] for m, s in ours}
        civdesk = state.messages.get(platform, {})
        for marker in expected:
            status, key = civdesk.get(marker, ("missing", None))
            if marker not in key_of:
                if status == "queued":
                    result.unfinished += 1  # still waiting for its turn when the bench stopped: not lost
                else:
                    result.lost += 1  # civdesk settled it (or has no such message) but the platform never got it
            elif status not in ("sent", "delivered", "read"):
                result.not_sent_in_civdesk += 1  # the platform got it, civdesk does not know
            elif key != key_of[marker]:
                result.key_mismatch += 1
        times = sorted(s["time"] for _, s in ours)
        if times:
            result.steady_rate = steady_rate(times, trim)
            result.overall_rate = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else math.nan
            result.first_send, result.last_send = times[0] - t0, times[-1] - t0
            result.peak_1s = peak_in_window(times)
            per_recipient: dict[str, list[float]] = defaultdict(list)
            for _, s in ours:
                per_recipient[s["to"]].append(s["time"])
            gaps = [b - a for ts in per_recipient.values() for a, b in zip(sorted(ts), sorted(ts)[1:], strict=False)]
            if gaps:
                result.min_recipient_gap = min(gaps)
                result.recipient_gaps_short = sum(1 for g in gaps if g < 0.9 * limits.recipient_interval)
            n_buckets = math.ceil((times[-1] - t0) / bucket)
            counts = Counter(int((t - t0) // bucket) for t in times)
            result.buckets = [counts.get(i, 0) / bucket for i in range(n_buckets)]
        results[platform] = result
    return results


def say(text: str) -> None:
    print(text, flush=True)


async def run_mode(mode: str, args: argparse.Namespace, limits: dict[str, Limits]) -> ModeReport:
    backend = "sqlite" if mode == "embedded" else "postgresql"
    workers = 1 if mode == "embedded" else args.workers
    report = ModeReport(mode, backend, workers)
    postgres_url = args.postgres_url or os.environ.get("CIVDESK_TEST_POSTGRES_URL")
    redis_url = args.redis_url or os.environ.get("CIVDESK_TEST_REDIS_URL")
    if mode == "distributed" and not (postgres_url and redis_url):
        report.skipped = ("needs PostgreSQL and Redis: pass --postgres-url/--redis-url or set "
                          "CIVDESK_TEST_POSTGRES_URL and CIVDESK_TEST_REDIS_URL "
                          "(eval \"$(bash scripts/test-services.sh start)\")")
        return report
    for url in (postgres_url, redis_url) if mode == "distributed" else ():
        if urlsplit(str(url)).hostname not in (HOST, "localhost"):
            report.skipped = f"refusing a server that is not on 127.0.0.1: {url}"
            return report

    plan = make_plan(tag=f"{mode[:3]}{args.seed}", total=args.messages, mix=args.mix, seed=args.seed, limits=limits)
    report.plan = plan
    workdir = Path(tempfile.mkdtemp(prefix=f"civdesk-outbound-{mode}-"))
    emulators: dict[str, Proc] = {}
    worker_procs: list[Proc] = []
    try:
        for platform in PLATFORMS:
            emulators[platform] = start_emulator(platform, workdir)
        for platform, proc in emulators.items():
            proc.wait_healthy()
            citizens = plan.recipients[platform] + [recipient_id(platform, PROBE_OFFSET + i)
                                                    for i in range(PROBE_RECIPIENTS)]
            httpx.post(f"{proc.url}/bench/setup", json={"citizens": citizens, "sink": f"{proc.url}/bench/sink"},
                       timeout=60).raise_for_status()
        with fresh_database(backend, workdir=workdir, postgres_url=postgres_url, name="civdesk-outbound") as database:
            world = await seed_world(database.url, emulators)
            channel_platform = {cid: p for p, cid in world.channels.items()}
            raw: dict[str, tuple[float, int]] = {}
            if args.raw_seconds > 0:
                for platform in PLATFORMS:
                    raw[platform] = await raw_capacity(platform, world.accounts[platform], seconds=args.raw_seconds,
                                                       concurrency=16)
                await registry.close_all()
            engine = create_engine(sync_url(database.url))
            try:
                report.insert_seconds = insert_backlog(engine, world, plan)
                say(f"{mode}: {args.messages} replies queued in {report.insert_seconds:.1f} s "
                    f"({', '.join(f'{p} {plan.counts[p]} to {len(plan.recipients[p])} citizens' for p in PLATFORMS)}); "
                    f"at the configured rates they need {plan.expected_seconds:.0f} s")
                env = child_env({"CIVDESK_DATABASE_URL": database.url, "CIVDESK_SECRET_KEY": SECRET_KEY,
                                 "CIVDESK_ENVIRONMENT": "bench", "CIVDESK_FILES_DIR": str(workdir / "files")})
                if mode == "distributed":
                    env["CIVDESK_REDIS_URL"] = str(redis_url)
                    _clear_pacing(str(redis_url), world.channels.values())
                if args.what_if:
                    env["BENCH_WHAT_IF"] = args.what_if
                    report.what_if = args.what_if
                for n in range(workers):
                    prefix: list[str] = []
                    if args.profile_dir:
                        args.profile_dir.mkdir(parents=True, exist_ok=True)
                        prefix = ["-m", "cProfile", "-o", str(args.profile_dir / f"worker-{mode}-{n + 1}.prof")]
                    if args.what_if:
                        command = [sys.executable, *prefix, str(BENCH_DIR / "outbound.py"), "--as-worker"]
                        worker_procs.append(Proc(f"what-if worker {n + 1}", command, env=env,
                                                 log_path=workdir / f"worker-{n + 1}.log"))
                    elif mode == "embedded":
                        port = free_port()
                        command = [sys.executable, *prefix, "-m", "civdesk.cli", "serve", "--host", HOST,
                                   "--port", str(port)]
                        worker_procs.append(Proc("civdesk serve", command, env=env, port=port,
                                                 log_path=workdir / "serve.log", stop_signal=signal.SIGINT))
                    else:
                        command = [sys.executable, *prefix, "-m", "civdesk.cli", "worker"]
                        worker_procs.append(Proc(f"civdesk worker {n + 1}", command, env=env,
                                                 log_path=workdir / f"worker-{n + 1}.log"))
                cpu0 = {p: proc.cpu_seconds() for p, proc in emulators.items()}
                machine0, bench0 = machine_busy_seconds(), time.process_time()
                database0 = postgres_cpu_seconds(engine) if backend == "postgresql" else 0.0
                t0 = time.time()
                for proc in worker_procs:
                    proc.start()
                samples: list[tuple[int, float]] = []
                report.finished = watch_drain(engine, channel_platform, worker_procs, plan, args, t0, samples)
                report.worker_cpu_ms_steady = steady_cpu_ms(samples, sum(plan.counts.values()))
                report.worker_cpu = report.worker_cpu_seconds = sum(proc.cpu_seconds() for proc in worker_procs)
                report.emulator_cpu = sum(proc.cpu_seconds() - cpu0[p] for p, proc in emulators.items())
                report.bench_cpu = time.process_time() - bench0
                # SQLite's share is inside the worker process; PostgreSQL's is the whole server's (give the bench a
                # server of its own, or other users' queries are counted too).
                report.database_cpu = (postgres_cpu_seconds(engine) - database0) if backend == "postgresql" else 0.0
                report.machine_busy = machine_busy_seconds() - machine0
                wall = time.time() - t0
                time.sleep(0.5)
                for proc in worker_procs:
                    proc.stop()
                sends = {p: httpx.get(f"{proc.url}/bench/sends", timeout=60).json() for p, proc in emulators.items()}
                state = read_state(engine, channel_platform)
            finally:
                engine.dispose()
        report.errors = state.errors
        report.crashes = crashes_in_logs([proc.log_path for proc in worker_procs])
        report.channels = analyse(plan, sends, state, t0=t0, trim=args.trim, bucket=args.bucket_seconds)
        for platform, (rate, failed) in raw.items():
            report.channels[platform].raw_rate, report.channels[platform].raw_failed = rate, failed
        last = [c.last_send for c in report.channels.values() if not math.isnan(c.last_send)]
        report.drain_seconds = max(last) if last else math.nan
        # CPU figures per second of the drain, so they read as cores busy.
        for name in ("worker_cpu", "emulator_cpu", "machine_busy", "bench_cpu", "database_cpu"):
            setattr(report, name, getattr(report, name) / wall)
    except Exception as exc:
        report.skipped = f"failed: {type(exc).__name__}: {exc}"
        say(f"{mode}: {report.skipped}")
        for log in sorted(workdir.glob("*.log")):
            say(f"--- {log.name} (last lines) ---\n" + "\n".join(log.read_text(errors="replace").splitlines()[-20:]))
    finally:
        for proc in worker_procs:
            proc.stop()
        for proc in emulators.values():
            proc.stop()
        if args.keep_logs:
            say(f"{mode}: logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return report


def crashes_in_logs(paths: list[Path]) -> Counter[str]:
    """'job N crashed' in the workers' logs, by the exception that ended the traceback."""
    found: Counter[str] = Counter()
    for path in paths:
        try:
            lines = path.read_text(errors="replace").splitlines()
        except OSError:
            continue
        in_crash = False
        last = ""
        for line in [*lines, ""]:
            if " crashed" in line and "civdesk.delivery.worker" in line:
                if in_crash:
                    found[last or "?"] += 1
                in_crash, last = True, ""
            elif in_crash and line and not line.startswith((" ", "Traceback", "During handling", "The above")):
                if re.match(r"^\d{4}-\d\d-\d\d ", line):  # the next log record: the traceback has ended
                    found[last or "?"] += 1
                    in_crash = False
                else:
                    last = line.strip()[:100]
            elif in_crash and not line:
                continue
        if in_crash:
            found[last or "?"] += 1
    return found


def _clear_pacing(redis_url: str, channel_ids: Any) -> None:
    """A fresh database reuses channel ids 1-4: forget pacing slots an earlier run left in Redis."""
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        for channel_id in channel_ids:
            for key in client.scan_iter(match=f"civdesk:pace:{channel_id}*", count=1000):
                client.delete(key)
    finally:
        client.close()


def watch_drain(engine: Engine, channel_platform: dict[int, str], procs: list[Proc], plan: Plan,
                args: argparse.Namespace, t0: float, samples: list[tuple[int, float]]) -> bool:
    """Polls the job table until every job is settled (done or failed); False on a timeout or a stall.
    Appends (jobs settled, worker CPU seconds) once a second to `samples`."""
    timeout = args.timeout or plan.expected_seconds * 5 + 60
    last_change, last_settled, last_print = time.time(), -1, t0
    total = sum(plan.counts.values())
    while True:
        time.sleep(1.0)
        for proc in procs:
            proc.check_alive()
        progress = job_progress(engine, channel_platform)
        settled = sum(c["done"] + c["failed"] for c in progress.values())
        samples.append((settled, sum(proc.cpu_seconds() for proc in procs)))
        moment = time.time()
        if settled != last_settled:
            last_change, last_settled = moment, settled
        if moment - last_print >= 10 or settled == total:
            last_print = moment
            per = ", ".join(f"{SHORT[p]} {progress[p]['done']}/{plan.counts[p]}" for p in PLATFORMS)
            say(f"  t={moment - t0:5.0f} s  settled {settled}/{total}  ({per})")
        if settled == total:
            return True
        if moment - t0 > timeout:
            say(f"  timed out after {timeout:.0f} s")
            return False
        if moment - last_change > args.stall_seconds:
            say(f"  no job settled for {args.stall_seconds:.0f} s: stopping")
            return False


# --------------------------------------------------------------------------------------------------
# What-if workers (--what-if): `civdesk worker`'s own code path, civdesk.runtime.run_worker, with some
# parameters changed in that process, to test why a goal is missed without editing src/. The default run
# never uses this: it starts the real `civdesk serve` / `civdesk worker`.
# --------------------------------------------------------------------------------------------------

WHAT_IF_KEYS: dict[str, type] = {
    "batch": int,  # DeliveryWorker(batch_size=…): jobs claimed per round (civdesk: 50)
    "concurrency": int,  # DeliveryWorker(concurrency=…): jobs in flight (civdesk: 32)
    "max_wait": float,  # jobs.MAX_PACING_WAIT: longest sleep for a pacing slot (civdesk: 5 s)
    "lease": float,  # DeliveryWorker(lease_seconds=…) (civdesk: 60 s)
    "preload": bool,  # import every adapter before the first claim (civdesk: on first use, on the loop)
    "refill": bool,  # prototype: claim as slots free up instead of waiting for a whole batch
    "rate_scale": float,  # every platform's messages_per_second × this (goals follow), to take CPU out of it
}


def parse_what_if(text: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, _, value = item.partition("=")
        kind = WHAT_IF_KEYS.get(key)
        if kind is None:
            raise ValueError(f"unknown --what-if {key!r}; known: {', '.join(WHAT_IF_KEYS)}")
        out[key] = True if kind is bool else kind(value)
    return out


def _scale_limits(scale: float) -> None:
    """Wraps the adapter registry so each adapter class's limits are scaled when it is first loaded."""
    import dataclasses

    original = registry.get
    done: set[type] = set()

    def get(channel_type: str) -> Any:
        adapter = original(channel_type)
        cls = type(adapter)
        if cls not in done:
            done.add(cls)
            cls.limits = dataclasses.replace(cls.limits, messages_per_second=cls.limits.messages_per_second * scale)
        return adapter

    registry.get = get  # type: ignore[assignment]


def _refill_worker_class() -> type:
    from civdesk.delivery import service as delivery_service
    from civdesk.delivery.worker import DeliveryWorker
    from civdesk.realtime import bus as bus_module

    class RefillWorker(DeliveryWorker):
        """Prototype: keeps up to `concurrency` jobs in flight and claims again as slots free up, instead of
        claiming a batch and waiting for all of it (where the slowest job of a batch holds back the rest)."""

        def __init__(self, *, concurrency: int = 32, **kwargs: Any) -> None:
            super().__init__(concurrency=concurrency, **kwargs)
            self._limit = concurrency

        async def run(self, stop: asyncio.Event) -> None:
            inflight: set[asyncio.Task[None]] = set()
            async with bus_module.current().subscribe(bus_module.DELIVERY_TOPIC) as wakeups:
                while not stop.is_set():
                    free = self._limit - len(inflight)
                    claimed = []
                    # Claim in batches of at least a quarter of the slots: a claim per freed slot costs a
                    # transaction per job.
                    if free >= max(1, self._limit // 4) or not inflight:
                        try:
                            async with self._sessionmaker() as session:
                                claimed = await delivery_service.claim_due(
                                    session=session, limit=min(free, self._batch_size),
                                    lease_seconds=self._lease_seconds)
                                await session.commit()
                        except Exception:
                            await asyncio.sleep(0.5)
                        for job in claimed:
                            task = asyncio.create_task(self._guarded(job))
                            inflight.add(task)
                            task.add_done_callback(inflight.discard)
                        if len(claimed) == min(free, self._batch_size) and len(inflight) < self._limit:
                            continue  # a full claim: more may be due
                    getter = asyncio.ensure_future(wakeups.get())
                    await asyncio.wait({*inflight, getter}, timeout=self._poll_seconds,
                                       return_when=asyncio.FIRST_COMPLETED)
                    getter.cancel()
                    while not wakeups.empty():
                        wakeups.get_nowait()
            await asyncio.gather(*inflight, return_exceptions=True)

    return RefillWorker


def as_worker() -> int:
    """`outbound.py --as-worker`: run_worker() as `civdesk worker` does, with $BENCH_WHAT_IF applied."""
    import logging

    from civdesk import runtime
    from civdesk.app import make_worker
    from civdesk.config import load_settings
    from civdesk.delivery import jobs as jobs_module

    what_if = parse_what_if(os.environ.get("BENCH_WHAT_IF", ""))
    settings = load_settings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if "rate_scale" in what_if:
        _scale_limits(what_if["rate_scale"])
    if "max_wait" in what_if:
        jobs_module.MAX_PACING_WAIT = what_if["max_wait"]
    if what_if.get("preload"):
        for platform in PLATFORMS:
            registry.get(platform)

    def patched_make_worker(settings: Any, sessionmaker: Any, files: Any) -> Any:
        base = make_worker(settings, sessionmaker, files)
        cls = _refill_worker_class() if what_if.get("refill") else type(base)
        return cls(sessionmaker=sessionmaker, files=files, public_url=settings.public_url, pacer=base._pacer,
                   max_attempts=settings.delivery_max_attempts, poll_seconds=settings.delivery_poll_seconds,
                   lease_seconds=what_if.get("lease", 60.0), batch_size=what_if.get("batch", 50),
                   concurrency=what_if.get("concurrency", 32))

    runtime.make_worker = patched_make_worker  # type: ignore[assignment]
    runtime.run(runtime.run_worker(settings))
    return 0


# --------------------------------------------------------------------------------------------------
# Report.
# --------------------------------------------------------------------------------------------------


def _f(value: float, digits: int = 1) -> str:
    return "—" if math.isnan(value) else f"{value:.{digits}f}"


def render(reports: list[ModeReport], args: argparse.Namespace) -> str:
    lines = ["", f"outbound delivery: {args.messages} queued replies per mode ({args.mix} mix, seed {args.seed}), "
                 f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, background load "
                 f"{args.background_cores:.2f} cores; steady = middle {100 - 200 * args.trim:.0f} % of each channel's "
                 "sends", ""]
    header = (f"{'mode':<12}{'channel':<10}{'limit/s':>8}{'planned':>8}{'steady/s':>9}{'ratio':>7}{'overall/s':>10}"
              f"{'raw/s':>7}{'peak 1s':>8}{'min gap s':>10}{'lost':>5}{'dup':>5}{'retried':>8}{'unsent':>8}   goals")
    lines.append(header)
    verdicts = []
    for r in reports:
        if r.skipped or not r.channels:
            lines.append(f"{r.mode:<12}skipped: {r.skipped}")
            verdicts.append(f"{r.mode}: not measured ({r.skipped})")
            continue
        for c in r.channels.values():
            lost_goal = "FAIL" if c.lost_total else "n/a (unfinished)" if c.unfinished else "PASS"
            goals = (f"rate {'PASS' if c.rate_ok else 'FAIL'}, lost {lost_goal}, "
                     f"dup {'PASS' if not c.duplicated else 'FAIL'}")
            lines.append(
                f"{r.mode:<12}{c.platform:<10}{c.limits.rate:>8g}{c.planned:>8}{_f(c.steady_rate):>9}"
                f"{_f(c.ratio, 2):>7}{_f(c.overall_rate):>10}{_f(c.raw_rate, 0):>7}{c.peak_1s:>8}"
                f"{_f(c.min_recipient_gap, 2):>10}{c.lost_total:>5}{c.duplicated:>5}{c.retried:>8}"
                f"{c.unfinished:>8}   {goals}")
        slow = [f"{c.platform} {c.ratio:.2f}" for c in r.channels.values() if not c.rate_ok]
        lost = sum(c.lost_total for c in r.channels.values())
        dup = sum(c.duplicated for c in r.channels.values())
        unsent = sum(c.unfinished for c in r.channels.values())
        lost_verdict = "FAIL" if lost else "not established: the drain did not finish" if unsent else "PASS"
        verdicts.append(
            f"{r.mode} ({r.backend}, {r.workers} worker{'s' if r.workers > 1 else ''}): "
            + ("every channel at ≥ 0.95 of its rate" if not slow else f"rate goal MISSED: {', '.join(slow)} (goal ≥ "
               f"{GOAL_RATIO})") + f"; lost {lost} ({lost_verdict}), duplicated {dup} "
            f"({'PASS' if not dup else 'FAIL'})"
            + ("" if r.finished else f"; the drain did NOT finish: {unsent} jobs still queued when the bench stopped"))
    lines += ["", "details:"]
    for r in reports:
        if r.skipped or not r.channels or r.plan is None:
            continue
        database = f"PostgreSQL {r.database_cpu:.2f}, " if r.backend == "postgresql" else ""
        lines.append(f"  {r.mode}: queued in {r.insert_seconds:.1f} s; drained in {_f(r.drain_seconds)} s from worker "
                     f"start (ideal {r.plan.expected_seconds:.0f} s); cores busy during the drain: workers "
                     f"{r.worker_cpu:.2f}, {database}emulators {r.emulator_cpu:.2f}, this bench {r.bench_cpu:.2f}, "
                     f"other work {r.other_cpu:.2f}; machine {r.machine_busy:.2f} of {os.cpu_count()}")
        lines.append(f"  {r.mode}: worker CPU per message {_f(r.worker_cpu_ms_steady)} ms in the steady part "
                     f"({_f(r.worker_cpu_ms)} ms over the whole run, start-up included)"
                     + (f"; WHAT-IF {r.what_if}" if r.what_if else ""))
        for c in r.channels.values():
            jobs = ", ".join(f"{k} {v}" for k, v in sorted(c.jobs.items()))
            lines.append(
                f"  {r.mode} {c.platform}: {c.recorded} recorded by the emulator ({c.distinct} distinct, "
                f"{c.unexpected} unknown), lost {c.lost} / not sent in civdesk {c.not_sent_in_civdesk} / platform "
                f"key mismatch {c.key_mismatch} / still queued {c.unfinished}; jobs {jobs}; first/last send at "
                f"{_f(c.first_send)}/{_f(c.last_send)} s; {c.recipients} citizens, min gap per citizen "
                f"{_f(c.min_recipient_gap, 2)} s "
                f"(interval {c.limits.recipient_interval:.0f} s, {c.recipient_gaps_short} shorter than 90 %); "
                f"raw probe failures {c.raw_failed}")
            lines.append(f"  {r.mode} {c.platform}: msg/s per {args.bucket_seconds:.0f} s from worker start: "
                         + " ".join(f"{b:.0f}" for b in c.buckets))
        if r.errors:
            lines.append(f"  {r.mode}: retries civdesk reported to the agent: "
                         + "; ".join(f"{k} ×{v}" for k, v in r.errors.most_common(6)))
        if r.crashes:
            lines.append(f"  {r.mode}: jobs that crashed in the worker (claimed again when their lease ran out): "
                         + "; ".join(f"{k} ×{v}" for k, v in r.crashes.most_common(4)))
    lines += ["", *verdicts]
    if args.background_cores > 0.5:
        lines.append(f"WARNING: {args.background_cores:.2f} of {os.cpu_count()} cores were busy with other work before "
                     "the run; workers competed with it for CPU. Rerun on a quiet machine.")
    if any("MISSED" in v or "FAIL)" in v for v in verdicts):
        lines.append("(a missed goal is a finding, not a crash: the exit status stays 0)")
    return "\n".join(lines)


def as_json(reports: list[ModeReport], args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {"messages": args.messages, "mix": args.mix, "seed": args.seed, "cpus": os.cpu_count(),
                           "background_cores": round(args.background_cores, 2), "modes": {}}
    for r in reports:
        if r.skipped or not r.channels:
            out["modes"][r.mode] = {"skipped": r.skipped}
            continue
        out["modes"][r.mode] = {
            "backend": r.backend, "workers": r.workers, "finished": r.finished,
            "insert_seconds": round(r.insert_seconds, 2), "drain_seconds": round(r.drain_seconds, 2),
            "cores_busy": {"workers": round(r.worker_cpu, 2), "database": round(r.database_cpu, 2),
                           "emulators": round(r.emulator_cpu, 2), "bench": round(r.bench_cpu, 2),
                           "other": round(r.other_cpu, 2), "machine": round(r.machine_busy, 2)},
            "worker_cpu_ms_per_message": round(r.worker_cpu_ms_steady, 2), "what_if": r.what_if,
            "channels": {c.platform: {
                "limit": c.limits.rate, "planned": c.planned, "recipients": c.recipients,
                "steady_msg_s": round(c.steady_rate, 2), "ratio": round(c.ratio, 3),
                "overall_msg_s": round(c.overall_rate, 2), "raw_msg_s": round(c.raw_rate, 1),
                "peak_1s": c.peak_1s, "min_recipient_gap_s": round(c.min_recipient_gap, 3),
                "lost": c.lost, "not_sent_in_civdesk": c.not_sent_in_civdesk, "key_mismatch": c.key_mismatch,
                "unfinished": c.unfinished,
                "duplicated": c.duplicated, "retried": c.retried, "jobs": dict(c.jobs),
                "buckets_msg_s": [round(b, 1) for b in c.buckets]} for c in r.channels.values()},
            "retry_reasons": dict(r.errors), "crashes": dict(r.crashes),
        }
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--modes", default="embedded,distributed",
                        help="comma-separated: embedded (SQLite, civdesk serve), distributed (PostgreSQL + Redis, "
                             "--workers × civdesk worker)")
    parser.add_argument("--messages", type=int, default=10_000, help="queued replies per mode, across the channels")
    parser.add_argument("--mix", choices=("proportional", "equal"), default="proportional",
                        help="split across channels in proportion to their rates (default) or equally")
    parser.add_argument("--workers", type=int, default=2, help="civdesk worker processes in the distributed mode")
    parser.add_argument("--seed", type=int, default=7, help="interleaving of the channels")
    parser.add_argument("--trim", type=float, default=0.1,
                        help="steady part = each channel's sends without this share at each end (default 0.1)")
    parser.add_argument("--bucket-seconds", type=float, default=10.0, help="width of the rate-over-time buckets")
    parser.add_argument("--raw-seconds", type=float, default=2.0,
                        help="length of the raw adapter→emulator probe per platform (0 to skip)")
    parser.add_argument("--timeout", type=float, default=0.0, help="bound on one drain (default 5 × ideal + 60 s)")
    parser.add_argument("--stall-seconds", type=float, default=90.0,
                        help="stop when no job settles for this long (longer than the 60 s lease)")
    parser.add_argument("--postgres-url", default=None,
                        help="server to create a throwaway database on (default $CIVDESK_TEST_POSTGRES_URL)")
    parser.add_argument("--redis-url", default=None,
                        help="Redis for the distributed mode (default $CIVDESK_TEST_REDIS_URL)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    parser.add_argument("--profile-dir", type=Path, default=None,
                        help="run the worker processes under cProfile, writing worker-<mode>-<n>.prof here")
    parser.add_argument("--keep-logs", action="store_true", help="keep the temp dir with the process logs")
    parser.add_argument("--what-if", default="",
                        help="experiments only: run the workers through run_worker() with changed parameters, "
                             f"e.g. refill,preload,batch=100 (keys: {', '.join(WHAT_IF_KEYS)})")
    args = parser.parse_args(argv)
    try:
        args.what_if_parsed = parse_what_if(args.what_if)
    except ValueError as exc:
        parser.error(str(exc))
    args.modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = set(args.modes) - {"embedded", "distributed"}
    if unknown:
        parser.error(f"unknown mode(s): {', '.join(sorted(unknown))}")
    if args.messages < 100 or args.workers < 1 or not 0 <= args.trim < 0.5:
        parser.error("need --messages >= 100, --workers >= 1 and 0 <= --trim < 0.5")
    return args


async def main_async(args: argparse.Namespace) -> list[ModeReport]:
    limits = platform_limits(args.what_if_parsed.get("rate_scale", 1.0))
    return [await run_mode(mode, args, limits) for mode in args.modes]


def main(argv: list[str] | None = None) -> int:
    if (sys.argv[1:] if argv is None else argv)[:1] == ["--as-worker"]:
        return as_worker()
    args = parse_args(argv)
    started = time.monotonic()
    args.background_cores = background_load()
    say(f"background load before the run: {args.background_cores:.2f} of {os.cpu_count()} cores busy"
        + (" — the machine is not quiet; expect noisy figures" if args.background_cores > 0.2 else ""))
    reports = asyncio.run(main_async(args))
    say(render(reports, args))
    say(f"\ntook {time.monotonic() - started:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(as_json(reports, args), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
