"""Webhook ingest: civdesk against a bare one-INSERT baseline on the same stack, in the same run.

    eval "$(bash scripts/test-services.sh start)"     # PostgreSQL on 127.0.0.1:55432 (optional)
    .venv/bin/python bench/ingest.py [--backends sqlite,postgresql] [--requests 2000] [--concurrency 32]

For each backend, on a fresh database (an SQLite file in a temp dir; a new PostgreSQL database on the
server of --postgres-url or $CIVDESK_TEST_POSTGRES_URL, dropped afterwards):

* civdesk runs under uvicorn in its own process (`python -m uvicorn --factory ingest:civdesk_app`),
  with an agency, an agent and a Telegram channel seeded through civdesk's own services. An agent's
  websocket (/api/v1/ws, bearer token from POST /api/v1/auth/login) stays open throughout. Its worker
  (routing timers, deliveries, file fetches) runs inside that process. With `--worker separate`, on
  PostgreSQL, it runs as the distributed mode deploys it instead: the web process without it, a
  `civdesk worker` beside it, events crossing through Redis (`--redis-url`, or $CIVDESK_TEST_REDIS_URL).
* The baseline runs the same way beside it (`ingest:baseline_app`: same uvicorn flags, same process
  model, same engine from civdesk.db.session.create_engine_for, same database) with one route that
  checks the secret header, parses the JSON and INSERTs the raw body into one table, `bench_raw`, in a
  transaction as SQLAlchemy runs it (BEGIN, INSERT, COMMIT). With `--baseline-commit autocommit`, on
  PostgreSQL, the INSERT runs alone in autocommit mode, one round trip: a stricter baseline, since
  civdesk's webhook needs no BEGIN or COMMIT either (db/direct).
* Phase 1, maximum: `--concurrency` closed-loop senders post `--requests` Telegram updates to each,
  alternating civdesk and baseline in `--rounds` rounds so background load hits both alike: msg/s.
* Phase 2, latency: once each server is idle again (phase 1 leaves files to fetch and conversations to
  route), updates posted open-loop at half civdesk's maximum; for civdesk each is timed from
  the moment it is sent until the agent's websocket has the matching message.created event, for the
  baseline as an HTTP round trip at the same rate: p50/p99.

It prints msg/s, the ratio civdesk/baseline and the latencies against the goals (ratio >= 0.5,
p99 < 50 ms at half the maximum), with CPU per message and how busy the machine was. It exits 0
whether or not the goals are met: it is a measurement. Only 127.0.0.1 is ever contacted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import hmac
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
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import aiohttp
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import Column, Integer, MetaData, Table, Text, create_engine, insert
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from civdesk.config import load_settings
from civdesk.core.clock import now
from civdesk.db.base import BigId, UtcDateTime
from civdesk.db.session import create_engine_for, create_sessionmaker, sync_url
from common import (
    HOST,
    Database,
    Proc,
    background_load,
    free_port,
    fresh_database,
    machine_busy_seconds,
)

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
SECRET_KEY = "bench-secret-key-for-civdesk-ingest-0123456789"
WEBHOOK_SECRET = "bench_webhook-secret"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
AGENT_EMAIL = "olena@bench.test"
AGENT_PASSWORD = "correct horse battery"
GOAL_RATIO = 0.5
GOAL_P99_MS = 50.0
MARKER = re.compile(r"#bench-[0-9a-z]+-\d+#")

# --------------------------------------------------------------------------------------------------
# The baseline: the same FastAPI/uvicorn/SQLAlchemy stack doing one INSERT per webhook.
# --------------------------------------------------------------------------------------------------

bench_metadata = MetaData()
bench_raw = Table(
    "bench_raw", bench_metadata,
    Column("id", BigId, primary_key=True),
    Column("channel_id", Integer, nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)


BASELINE_COMMIT = {
    "transaction": "in a transaction (BEGIN, INSERT, COMMIT)",
    "autocommit": "in autocommit mode (one statement, no BEGIN or COMMIT)",
}


def _baseline_sessionmaker(request: Request) -> async_sessionmaker[AsyncSession]:
    maker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    return maker


def baseline_app() -> FastAPI:
    """uvicorn --factory target: POST /baseline/{channel_id} = secret check + json.loads + one INSERT."""
    settings = load_settings()
    secret = os.environ.get("CIVDESK_BENCH_WEBHOOK_SECRET", WEBHOOK_SECRET).encode()
    autocommit = os.environ.get("CIVDESK_BENCH_BASELINE_COMMIT") == "autocommit"

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine_for(settings.database_url)
        # --baseline-commit autocommit: the INSERT alone, one round trip, without SQLAlchemy's BEGIN and COMMIT.
        app.state.sessionmaker = create_sessionmaker(
            engine.execution_options(isolation_level="AUTOCOMMIT") if autocommit else engine
        )
        try:
            yield
        finally:
            await engine.dispose()

    app = FastAPI(title="civdesk ingest baseline", lifespan=lifespan)

    @app.post("/baseline/{channel_id}")
    async def baseline(
        channel_id: int, request: Request,
        sessionmaker: Annotated[async_sessionmaker[AsyncSession], Depends(_baseline_sessionmaker)],
    ) -> JSONResponse:
        body = await request.body()
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, secret):
            return JSONResponse({"error": {"code": "unauthorized"}}, status_code=401)
        try:
            update = json.loads(body)
        except ValueError:
            return JSONResponse({"error": {"code": "invalid_input"}}, status_code=400)
        if not isinstance(update, dict) or not isinstance(update.get("update_id"), int):
            return JSONResponse({"error": {"code": "invalid_input"}}, status_code=400)
        async with sessionmaker() as session:
            await session.execute(
                insert(bench_raw).values(channel_id=channel_id, body=body.decode(), created_at=now())
            )
            await session.commit()
        return JSONResponse({"ok": True})

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def civdesk_app() -> FastAPI:
    """uvicorn --factory target: civdesk as `civdesk serve` runs it, configured from CIVDESK_* variables."""
    from civdesk.runtime import serving_app

    return serving_app()


# --------------------------------------------------------------------------------------------------
# Databases and the seeded world.
# --------------------------------------------------------------------------------------------------


def _create_baseline_table(url: str) -> None:
    engine = create_engine(sync_url(url))
    try:
        bench_metadata.create_all(engine)
    finally:
        engine.dispose()


@dataclass(frozen=True)
class World:
    agency_id: int
    channel_id: int


async def seed(url: str) -> World:
    """One agency, one agent, one Telegram channel with a known webhook secret (as tests/support do)."""
    from civdesk.agency import service as agency_service
    from civdesk.agent import service as agent_service
    from civdesk.channel import service as channel_service

    engine = create_engine_for(url)
    try:
        async with create_sessionmaker(engine)() as session:
            agency = await agency_service.create(session=session, slug="bench", name="Міністерство бенчмарків")
            await agent_service.create(
                session=session, agency=agency, email=AGENT_EMAIL, password=AGENT_PASSWORD, name="Олена",
            )
            channel = await channel_service.add(
                session=session, agency=agency, type="telegram", name="@bench_bot",
                # Nothing is sent to Telegram here; a closed loopback port, should anything try.
                config={"api_base": f"http://{HOST}:9"},
                secrets={"token": "4242:bench-bot-token", "secret": WEBHOOK_SECRET},
            )
            await session.commit()
            return World(agency_id=agency.id, channel_id=channel.id)
    finally:
        await engine.dispose()


# --------------------------------------------------------------------------------------------------
# Servers: each in its own process, started the same way.
# --------------------------------------------------------------------------------------------------


def uvicorn_server(factory: str, *, env: dict[str, str], log_path: Path, python_prefix: tuple[str, ...] = ()) -> Proc:
    """`python -m uvicorn --factory ingest:<factory>` on 127.0.0.1, one process, uvicorn's defaults
    (uvloop + httptools when installed, as with `civdesk serve`), access log off for both."""
    port = free_port()
    command = [
        sys.executable, *python_prefix, "-m", "uvicorn", "--factory", f"ingest:{factory}",
        "--app-dir", str(BENCH_DIR), "--host", HOST, "--port", str(port),
        "--log-level", "warning", "--no-access-log",
    ]
    return Proc(factory, command, env=env, log_path=log_path, port=port, stop_signal=signal.SIGINT)


def civdesk_worker(*, env: dict[str, str], log_path: Path) -> Proc:
    """`civdesk worker`: delivery, routing timers and long polling, beside a web process started with
    the embedded worker off (the distributed mode in docs/deployment.md)."""
    return Proc("civdesk worker", [sys.executable, "-m", "civdesk.cli", "worker"], env=env, log_path=log_path,
                stop_signal=signal.SIGINT)


async def start_server(server: Proc) -> None:
    server.start()
    await asyncio.to_thread(server.wait_healthy)


# --------------------------------------------------------------------------------------------------
# The load: real Telegram updates from a few thousand private chats.
# --------------------------------------------------------------------------------------------------

FIRST_NAMES = ("Оксана", "Петро", "Марія", "Іван", "Олег", "Наталія", "Андрій", "Світлана", "Тарас", "Ірина")
LAST_NAMES = ("Шевченко", "Коваленко", "Бондаренко", "Ткаченко", "Кравченко", "Олійник", "Мельник", None)
TEXTS = (
    "Добрий день! Коли прийде субсидія за цей місяць?",
    "Як подати заяву на допомогу при народженні дитини?",
    "Мені не нарахували пенсію, що робити?",
    "Дякую, документи надіслала.",
    "Підкажіть, будь ласка, які документи потрібні для перерахунку?",
    "Так",
    "Чи можна записатися на прийом онлайн? Я живу в Харкові, а прописана у Львові.",
)


@dataclass
class Workload:
    """Distinct update_ids; a `new_share` of messages come from a chat never seen before (civdesk
    creates contact + identity + conversation), the rest continue a random earlier chat (civdesk finds
    the contact and its open conversation). A `photo_share` are photos with a caption, the rest text."""

    tag: str
    chats: int
    new_share: float
    photo_share: float = 0.1
    seed: int = 7
    rng: random.Random = field(init=False)
    seq: int = 0
    chat_ids: list[int] = field(default_factory=list)
    message_ids: dict[int, int] = field(default_factory=dict)
    new_chats: int = 0

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def next(self) -> tuple[str, bytes]:
        self.seq += 1
        rng = self.rng
        if not self.chat_ids or (len(self.chat_ids) < self.chats and rng.random() < self.new_share):
            chat_id = 380_000_000 + len(self.chat_ids) * 7919 + 1
            self.chat_ids.append(chat_id)
            self.new_chats += 1
        else:
            chat_id = rng.choice(self.chat_ids)
        message_id = self.message_ids.get(chat_id, 0) + 1
        self.message_ids[chat_id] = message_id
        name_rng = random.Random(chat_id)  # the same citizen keeps the same name
        first, last = name_rng.choice(FIRST_NAMES), name_rng.choice(LAST_NAMES)
        user: dict[str, Any] = {"id": chat_id, "is_bot": False, "first_name": first, "language_code": "uk",
                                "username": f"citizen{chat_id}"}
        chat: dict[str, Any] = {"id": chat_id, "type": "private", "first_name": first,
                                "username": f"citizen{chat_id}"}
        if last:
            user["last_name"] = chat["last_name"] = last
        marker = f"#bench-{self.tag}-{self.seq}#"
        text = f"{rng.choice(TEXTS)} {marker}"
        message: dict[str, Any] = {"message_id": message_id, "from": user, "chat": chat,
                                   "date": int(time.time())}
        if rng.random() < self.photo_share:
            message["photo"] = [
                {"file_id": f"AgAC{chat_id}x{message_id}s", "file_unique_id": f"u{chat_id}x{message_id}s",
                 "width": 90, "height": 120, "file_size": 1400},
                {"file_id": f"AgAC{chat_id}x{message_id}m", "file_unique_id": f"u{chat_id}x{message_id}m",
                 "width": 960, "height": 1280, "file_size": 98000},
            ]
            message["caption"] = text
        else:
            message["text"] = text
        update = {"update_id": 500_000_000 + self.seq, "message": message}
        return marker, json.dumps(update, ensure_ascii=False).encode()


# --------------------------------------------------------------------------------------------------
# Measuring.
# --------------------------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


class EventWatch:
    """The agent's websocket: when each marked message.created event arrived."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.other_events: Counter[str] = Counter()
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None

    async def connect(self, client: aiohttp.ClientSession, base_url: str) -> None:
        async with client.post(f"{base_url}/api/v1/auth/login",
                               json={"email": AGENT_EMAIL, "password": AGENT_PASSWORD}) as response:
            response.raise_for_status()
            token = (await response.json())["access_token"]
        ws_url = base_url.replace("http://", "ws://") + "/api/v1/ws"
        self._ws = await client.ws_connect(ws_url, params={"token": token}, max_msg_size=0)
        hello = await self._ws.receive_json(timeout=10)
        if hello.get("type") != "hello":
            raise RuntimeError(f"unexpected first websocket message: {hello}")
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self._ws is not None
        async for frame in self._ws:
            if frame.type is not aiohttp.WSMsgType.TEXT:
                continue
            stamp = time.perf_counter()
            event = json.loads(frame.data)
            kind = event.get("type", "?")
            if kind == "message.created":
                found = MARKER.search(event["payload"]["message"]["text"])
                if found:
                    self.arrived.setdefault(found.group(0), stamp)
                    self._changed.set()
                    continue
            self.other_events[kind] += 1

    async def wait_for(self, markers: list[str], timeout: float) -> int:
        """Waits until every marker has arrived or the timeout passes; returns how many are missing."""
        deadline = time.monotonic() + timeout
        while True:
            missing = sum(1 for m in markers if m not in self.arrived)
            if not missing or time.monotonic() > deadline:
                return missing
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=max(0.01, deadline - time.monotonic()))

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


@dataclass
class Sent:
    marker: str
    sent_at: float
    answered_at: float = math.nan
    status: int = 0
    error: str = ""


@dataclass
class CpuMeter:
    """Server process, this (client) process and the whole machine, from one point on."""

    server: Proc
    server_start: float = field(init=False)
    client_start: float = field(init=False)
    machine_start: float = field(init=False)

    def __post_init__(self) -> None:
        self.server_start = self.server.cpu_seconds()
        self.client_start = time.process_time()
        self.machine_start = machine_busy_seconds()

    def read(self) -> tuple[float, float, float]:
        return (self.server.cpu_seconds() - self.server_start, time.process_time() - self.client_start,
                machine_busy_seconds() - self.machine_start)


@dataclass
class PhaseResult:
    sent: list[Sent]
    elapsed: float
    cpu_seconds: float
    client_cpu_seconds: float = math.nan
    machine_busy_seconds: float = math.nan

    @property
    def ok(self) -> list[Sent]:
        return [s for s in self.sent if s.status == 200]

    @property
    def failures(self) -> Counter[str]:
        return Counter(str(s.status or s.error or "no answer") for s in self.sent if s.status != 200)

    @property
    def rate(self) -> float:
        return len(self.ok) / self.elapsed if self.elapsed > 0 else math.nan

    @property
    def http_ms(self) -> list[float]:
        return [(s.answered_at - s.sent_at) * 1000 for s in self.ok]

    def cpu_ms_per_message(self) -> float:
        return self.cpu_seconds * 1000 / len(self.ok) if self.ok else math.nan

    def utilisation(self) -> str:
        """Cores busy during the phase: server process, client (this) process, whole machine."""
        cores = os.cpu_count() or 1
        return (f"server {self.cpu_seconds / self.elapsed:.2f}, client {self.client_cpu_seconds / self.elapsed:.2f}, "
                f"machine {self.machine_busy_seconds / self.elapsed:.2f} of {cores} cores")


class Target:
    """Where the load goes: the webhook URL of civdesk or of the baseline."""

    def __init__(self, *, url: str, workload: Workload) -> None:
        self.url = url
        self.workload = workload
        self.headers = {SECRET_HEADER: WEBHOOK_SECRET, "Content-Type": "application/json"}

    async def post(self, client: aiohttp.ClientSession) -> Sent:
        marker, body = self.workload.next()
        sent = Sent(marker=marker, sent_at=time.perf_counter())
        try:
            async with client.post(self.url, data=body, headers=self.headers) as response:
                await response.read()
                sent.status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            sent.status = 0
            sent.error = type(exc).__name__
        sent.answered_at = time.perf_counter()
        return sent


async def closed_loop(client: aiohttp.ClientSession, target: Target, server: Proc, *, count: int,
                      concurrency: int, max_seconds: float) -> PhaseResult:
    """`concurrency` senders, each posting its next update as soon as the previous one is answered."""
    results: list[Sent] = []
    remaining = count
    deadline = time.perf_counter() + max_seconds

    async def sender() -> None:
        nonlocal remaining
        while remaining > 0 and time.perf_counter() < deadline:
            remaining -= 1
            results.append(await target.post(client))

    meter = CpuMeter(server)
    started = time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return PhaseResult(results, elapsed, *meter.read())


async def until_idle(*processes: Proc, idle_cores: float = 0.05, window: float = 0.5, most: float = 30.0) -> float:
    """Waits until the processes are idle (under `idle_cores` busy together over `window` seconds), at most
    `most` seconds; returns how long it took."""
    started = time.perf_counter()
    while time.perf_counter() - started < most:
        for process in processes:
            process.check_alive()
        before = sum(p.cpu_seconds() for p in processes)
        await asyncio.sleep(window)
        if sum(p.cpu_seconds() for p in processes) - before < idle_cores * window:
            break
    return time.perf_counter() - started


async def open_loop(client: aiohttp.ClientSession, target: Target, server: Proc, *, count: int,
                    rate: float, max_seconds: float) -> PhaseResult:
    """Posts at a fixed rate whatever the answers (no coordinated omission), up to `count` updates."""
    tasks: list[asyncio.Task[Sent]] = []
    meter = CpuMeter(server)
    started = time.perf_counter()
    for i in range(count):
        due = started + i / rate
        if due - started > max_seconds:
            break
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(target.post(client)))
    results = list(await asyncio.gather(*tasks))
    elapsed = time.perf_counter() - started
    return PhaseResult(results, elapsed, *meter.read())


# --------------------------------------------------------------------------------------------------
# One backend: civdesk, then the baseline, on the same fresh database.
# --------------------------------------------------------------------------------------------------


@dataclass
class Measured:
    """Figures of one server (civdesk or baseline) on one backend."""

    throughput: PhaseResult
    latency: PhaseResult
    latency_rate: float
    ws_ms: list[float] = field(default_factory=list)
    events_missing_throughput: int = 0
    events_missing_latency: int = 0
    new_chats: int = 0
    messages: int = 0


@dataclass
class BackendReport:
    backend: str
    civdesk: Measured | None = None
    baseline: Measured | None = None
    skipped: str | None = None
    round_ratios: list[float] = field(default_factory=list)
    topology: str = ""
    baseline_commit: str = "transaction"
    worker_cpu_seconds: float = math.nan  # the separate worker's, over phase 1 and its settling

    @property
    def ratio(self) -> float:
        if not self.civdesk or not self.baseline:
            return math.nan
        base_rate = self.baseline.throughput.rate
        return self.civdesk.throughput.rate / base_rate if base_rate else math.nan

    @property
    def ws_p99(self) -> float:
        return percentile(self.civdesk.ws_ms, 99) if self.civdesk else math.nan


def server_env(url: str, redis_url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIVDESK_")}
    env.update({
        "CIVDESK_DATABASE_URL": url,
        "CIVDESK_SECRET_KEY": SECRET_KEY,
        "CIVDESK_ENVIRONMENT": "bench",
        "CIVDESK_BENCH_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "PYTHONPATH": os.pathsep.join(p for p in (str(REPO / "src"), env.get("PYTHONPATH")) if p),
    })
    if redis_url:
        env["CIVDESK_REDIS_URL"] = redis_url
    return env


def topology(backend: str, args: argparse.Namespace) -> tuple[bool, str | None, str]:
    """Whether civdesk's workers run in a process of their own, the Redis bus (if any) and a line saying so.
    Embedded (the default): one process, as `civdesk serve` runs with its worker inside. Separate, on
    PostgreSQL only: the distributed mode of docs/deployment.md, `civdesk serve --no-embedded-worker` beside
    a `civdesk worker`, events crossing between them through Redis; both share the machine's cores. (SQLite
    is the embedded mode's database: it always runs embedded.)"""
    separate = args.worker == "separate" and backend == "postgresql"
    redis_url = args.redis_url
    if separate and not redis_url:
        from_env = os.environ.get("CIVDESK_TEST_REDIS_URL", "")
        redis_url = from_env if from_env.startswith(("redis://127.0.0.1", "redis://localhost")) else None
        if not redis_url:
            raise RuntimeError("a separate worker needs the Redis bus on this machine: pass --redis-url, or set "
                               "CIVDESK_TEST_REDIS_URL to a Redis on 127.0.0.1")
    bus = "Redis bus" if redis_url else "in-memory bus"
    shape = "web process + civdesk worker" if separate else "one process, worker embedded"
    return separate, redis_url, f"{shape}, {bus}"


def say(text: str) -> None:
    print(text, flush=True)


@dataclass
class Side:
    """One server under test (civdesk or the baseline) with its load."""

    name: str
    server: Proc
    target: Target
    workload: Workload
    watch: EventWatch | None = None
    rounds: list[PhaseResult] = field(default_factory=list)


def _merge(rounds: list[PhaseResult]) -> PhaseResult:
    merged = PhaseResult([s for r in rounds for s in r.sent], sum(r.elapsed for r in rounds),
                         sum(r.cpu_seconds for r in rounds))
    merged.client_cpu_seconds = sum(r.client_cpu_seconds for r in rounds)
    merged.machine_busy_seconds = sum(r.machine_busy_seconds for r in rounds)
    return merged


async def _throughput_round(client: aiohttp.ClientSession, side: Side, count: int,
                            args: argparse.Namespace) -> PhaseResult:
    result = await closed_loop(client, side.target, side.server, count=count, concurrency=args.concurrency,
                               max_seconds=args.max_phase_seconds)
    side.rounds.append(result)
    failures = f", failures {dict(result.failures)}" if result.failures else ""
    say(f"  {side.name:<9} phase 1 round {len(side.rounds)}: {result.rate:7.1f} msg/s "
        f"({len(result.ok)} ok in {result.elapsed:.1f} s{failures}; {result.utilisation()})")
    return result


async def measure(database: Database, world: World, args: argparse.Namespace, workdir: Path) -> BackendReport:
    """Both servers up side by side (the idle one costs next to nothing); phase 1 alternates between them
    in rounds so that background load on the machine hits both alike; then phase 2 on each."""
    backend = database.backend
    prefix: tuple[str, ...] = ()
    if args.profile_dir:
        args.profile_dir.mkdir(parents=True, exist_ok=True)
        prefix = ("-m", "cProfile", "-o", str(args.profile_dir / f"civdesk-{backend}.prof"))
    separate, redis_url, report_topology = topology(backend, args)
    env = server_env(database.url, redis_url) | {"CIVDESK_FILES_DIR": str(workdir / "files")}
    civdesk_env = env | {"CIVDESK_EMBEDDED_WORKER": "false"} if separate else env
    civdesk_server = uvicorn_server("civdesk_app", env=civdesk_env, log_path=workdir / f"civdesk-{backend}.log",
                                    python_prefix=prefix)
    worker = civdesk_worker(env=civdesk_env, log_path=workdir / f"worker-{backend}.log") if separate else None
    # SQLite runs in-process, with no round trips to save: its baseline always commits as SQLAlchemy does.
    commit = args.baseline_commit if backend == "postgresql" else "transaction"
    baseline_server = uvicorn_server("baseline_app", env=env | {"CIVDESK_BENCH_BASELINE_COMMIT": commit},
                                     log_path=workdir / f"baseline-{backend}.log")
    report = BackendReport(backend, topology=report_topology, baseline_commit=commit)
    say(f"{backend}: civdesk runs as {report_topology}; the baseline's INSERT {BASELINE_COMMIT[commit]}")
    try:
        await start_server(civdesk_server)
        if worker is not None:
            worker.start()
        await start_server(baseline_server)
        civdesk_load = Workload(tag=f"c{backend[:2]}", chats=args.chats, new_share=args.new_chat_share,
                               photo_share=args.photo_share)
        baseline_load = Workload(tag=f"b{backend[:2]}", chats=args.chats, new_share=args.new_chat_share,
                                photo_share=args.photo_share)
        civdesk = Side("civdesk", civdesk_server, Target(
            url=f"{civdesk_server.url}/webhooks/telegram/{world.channel_id}", workload=civdesk_load),
            civdesk_load, EventWatch())
        baseline = Side("baseline", baseline_server, Target(
            url=f"{baseline_server.url}/baseline/{world.channel_id}", workload=baseline_load), baseline_load)
        timeout = aiohttp.ClientTimeout(total=60)
        # Idle pooled connections are dropped by the client before uvicorn's 5 s keep-alive timeout can
        # close them under a request (one side idles while the other one's round runs).
        connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=2.0)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as client:
            assert civdesk.watch is not None
            await civdesk.watch.connect(client, civdesk_server.url)
            for side in (civdesk, baseline):
                warm = await closed_loop(client, side.target, side.server, count=args.warmup,
                                         concurrency=args.concurrency, max_seconds=args.max_phase_seconds)
                say(f"  {side.name:<9} warm-up {len(warm.ok)}/{len(warm.sent)} ok")
                if side.watch is not None:
                    await side.watch.wait_for([s.marker for s in warm.ok], timeout=10)

            worker_cpu_before = worker.cpu_seconds() if worker is not None else 0.0
            per_round = max(1, args.requests // args.rounds)
            for number in range(args.rounds):
                order = (civdesk, baseline) if number % 2 == 0 else (baseline, civdesk)
                for side in order:
                    await _throughput_round(client, side, per_round, args)
                base_rate = baseline.rounds[-1].rate
                report.round_ratios.append(civdesk.rounds[-1].rate / base_rate if base_rate else math.nan)
            throughput = _merge(civdesk.rounds)
            missing_t = await civdesk.watch.wait_for([s.marker for s in throughput.ok], timeout=15)

            # Phase 1 leaves work behind (files to fetch, conversations to route, their events on the
            # agent's socket): measured on top of that backlog, the first second of phase 2 timed the
            # catching up (p99 60-280 ms, all in its first 0.35 s), not the steady state at half the maximum.
            settled = await until_idle(civdesk_server, *([worker] if worker is not None else []))
            say(f"  civdesk   settled after phase 1 in {settled:.1f} s")
            if worker is not None:
                report.worker_cpu_seconds = worker.cpu_seconds() - worker_cpu_before
            rate = max(1.0, throughput.rate / 2)
            count = min(args.requests, max(args.min_latency_samples, int(rate * args.latency_seconds)))
            with collector_paused():
                latency = await open_loop(client, civdesk.target, civdesk_server, count=count, rate=rate,
                                          max_seconds=args.max_phase_seconds)
                missing_l = await civdesk.watch.wait_for([s.marker for s in latency.ok], timeout=15)
            arrived = civdesk.watch.arrived
            ws_ms = [(arrived[s.marker] - s.sent_at) * 1000 for s in latency.ok if s.marker in arrived]
            say(f"  civdesk   phase 2: {len(latency.ok)} msgs at {rate:.0f}/s: webhook→websocket "
                f"p50 {percentile(ws_ms, 50):.1f} ms p99 {percentile(ws_ms, 99):.1f} ms (events missing {missing_l}; "
                f"{latency.utilisation()})")
            report.civdesk = Measured(
                throughput=throughput, latency=latency, latency_rate=rate, ws_ms=ws_ms,
                events_missing_throughput=missing_t, events_missing_latency=missing_l,
                new_chats=civdesk_load.new_chats, messages=civdesk_load.seq,
            )
            await civdesk.watch.close()

            await until_idle(baseline_server)
            with collector_paused():
                base_latency = await open_loop(client, baseline.target, baseline_server, count=count, rate=rate,
                                               max_seconds=args.max_phase_seconds)
            say(f"  baseline  phase 2: {len(base_latency.ok)} msgs at {rate:.0f}/s: HTTP round trip "
                f"p50 {percentile(base_latency.http_ms, 50):.1f} ms p99 {percentile(base_latency.http_ms, 99):.1f} ms")
            report.baseline = Measured(
                throughput=_merge(baseline.rounds), latency=base_latency, latency_rate=rate,
                new_chats=baseline_load.new_chats, messages=baseline_load.seq,
            )
    finally:
        civdesk_server.stop()
        if worker is not None:
            worker.stop()
        baseline_server.stop()
    return report


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """While the latency phase is timed, this process (the senders and the agent's socket) does not
    collect garbage: it imports civdesk to seed the database, and a full collection of that heap took
    150–190 ms here, time that a message sent or received meanwhile would have been charged with."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


async def run_backend(backend: str, args: argparse.Namespace) -> BackendReport:
    postgres_url = args.postgres_url or os.environ.get("CIVDESK_TEST_POSTGRES_URL")
    if backend == "postgresql" and not postgres_url:
        return BackendReport(backend, skipped="no PostgreSQL: pass --postgres-url or set CIVDESK_TEST_POSTGRES_URL "
                                              "(eval \"$(bash scripts/test-services.sh start)\")")
    workdir = Path(tempfile.mkdtemp(prefix=f"civdesk-bench-{backend}-"))
    report = BackendReport(backend)
    try:
        with fresh_database(backend, workdir=workdir, postgres_url=postgres_url, name="civdesk-bench",
                            after_migrate=_create_baseline_table) as database:
            world = await seed(database.url)
            say(f"{backend}: database ready ({make_url(database.url).render_as_string(hide_password=True)})")
            report = await measure(database, world, args, workdir)
    except Exception as exc:
        report.skipped = f"failed: {type(exc).__name__}: {exc}"
        say(f"{backend}: {report.skipped}")
        for log in sorted(workdir.glob("*.log")):
            say(f"--- {log.name} (last lines) ---\n" + "\n".join(log.read_text(errors="replace").splitlines()[-20:]))
    finally:
        if args.keep_logs:
            say(f"{backend}: server logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return report


# --------------------------------------------------------------------------------------------------
# Report.
# --------------------------------------------------------------------------------------------------


def _ms(value: float) -> str:
    return "—" if math.isnan(value) else f"{value:.1f}"


def render(reports: list[BackendReport], args: argparse.Namespace) -> str:
    lines = [
        "",
        f"webhook ingest, {args.requests} requests per phase 1, concurrency {args.concurrency}, "
        f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}"
        + f", background load {args.background_cores:.2f} cores",
        "",
        f"{'backend':<11}{'civdesk msg/s':>14}{'baseline msg/s':>16}{'ratio':>7}{'@ rate':>8}"
        f"{'ws p50 ms':>11}{'ws p99 ms':>11}{'base p50/p99 ms':>17}"
        f"   goals (ratio ≥ {GOAL_RATIO}, p99 < {GOAL_P99_MS:.0f} ms)",
    ]
    verdicts: list[str] = []
    for r in reports:
        if r.skipped or not r.civdesk or not r.baseline:
            lines.append(f"{r.backend:<11}skipped: {r.skipped}")
            verdicts.append(f"{r.backend}: not measured ({r.skipped})")
            continue
        c, b = r.civdesk, r.baseline
        ratio_ok = r.ratio >= GOAL_RATIO
        p99_ok = r.ws_p99 < GOAL_P99_MS and not c.events_missing_latency
        goals = f"ratio {'PASS' if ratio_ok else 'FAIL'}, p99 {'PASS' if p99_ok else 'FAIL'}"
        lines.append(
            f"{r.backend:<11}{c.throughput.rate:>14.1f}{b.throughput.rate:>16.1f}{r.ratio:>7.2f}"
            f"{c.latency_rate:>7.0f}/s{_ms(percentile(c.ws_ms, 50)):>11}{_ms(r.ws_p99):>11}"
            f"{_ms(percentile(b.latency.http_ms, 50)) + '/' + _ms(percentile(b.latency.http_ms, 99)):>17}   {goals}"
        )
        if not ratio_ok:
            verdicts.append(f"{r.backend}: civdesk MISSES the throughput goal: {r.ratio:.2f} of the baseline "
                            f"(goal ≥ {GOAL_RATIO}).")
        if not p99_ok:
            verdicts.append(f"{r.backend}: civdesk MISSES the latency goal: p99 {r.ws_p99:.1f} ms at "
                            f"{c.latency_rate:.0f} msg/s (goal < {GOAL_P99_MS:.0f} ms"
                            + (f"; {c.events_missing_latency} events never arrived" if c.events_missing_latency else "")
                            + ").")
        if ratio_ok and p99_ok:
            verdicts.append(f"{r.backend}: civdesk meets both goals.")
    lines.append("")
    lines.append("details:")
    for r in reports:
        if r.skipped or not r.civdesk or not r.baseline:
            continue
        c, b = r.civdesk, r.baseline
        lines.append(f"  {r.backend}: civdesk ran as {r.topology}; "
                     f"the baseline's INSERT {BASELINE_COMMIT[r.baseline_commit]}")
        lines.append(
            f"  {r.backend}: server CPU per message: civdesk {c.throughput.cpu_ms_per_message():.2f} ms, "
            f"baseline {b.throughput.cpu_ms_per_message():.2f} ms (phase 1, server process only); "
            f"civdesk webhook HTTP p50/p99 at {c.latency_rate:.0f}/s: {_ms(percentile(c.latency.http_ms, 50))}/"
            f"{_ms(percentile(c.latency.http_ms, 99))} ms"
        )
        if not math.isnan(r.worker_cpu_seconds) and c.throughput.ok:
            lines.append(f"  {r.backend}: civdesk worker CPU per message: "
                         f"{r.worker_cpu_seconds * 1000 / len(c.throughput.ok):.2f} ms (phase 1 and its settling)")
        lines.append(f"  {r.backend}: civdesk/baseline per phase-1 round: "
                     + ", ".join(f"{x:.2f}" for x in r.round_ratios))
        lines.append(f"  {r.backend}: cores busy in phase 1: civdesk run {c.throughput.utilisation()}; "
                     f"baseline run {b.throughput.utilisation()}")
        lines.append(
            f"  {r.backend}: civdesk received {c.messages} updates from {c.new_chats} distinct chats; "
            f"events missing after phase 1/2: {c.events_missing_throughput}/{c.events_missing_latency}; "
            f"failures civdesk {dict(c.throughput.failures + c.latency.failures) or 'none'}, "
            f"baseline {dict(b.throughput.failures + b.latency.failures) or 'none'}"
        )
    lines.append("")
    lines.extend(verdicts)
    if args.background_cores > 0.5:
        lines.append(f"WARNING: {args.background_cores:.2f} of {os.cpu_count()} cores were busy with other work before "
                     "the run; the servers competed with it for CPU, so these figures are unreliable. "
                     "Rerun on a quiet machine; compare the per-round ratios above for consistency.")
    if any("MISSES" in v for v in verdicts):
        lines.append("(a missed goal is a finding, not a crash: the exit status stays 0)")
    return "\n".join(lines)


def as_json(reports: list[BackendReport], args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {"requests": args.requests, "concurrency": args.concurrency, "cpus": os.cpu_count(),
                           "python": sys.version.split()[0],
                           "background_cores": round(args.background_cores, 2), "backends": {}}
    for r in reports:
        if r.skipped or not r.civdesk or not r.baseline:
            out["backends"][r.backend] = {"skipped": r.skipped}
            continue
        c, b = r.civdesk, r.baseline
        out["backends"][r.backend] = {
            "civdesk_msg_s": round(c.throughput.rate, 1), "baseline_msg_s": round(b.throughput.rate, 1),
            "ratio": round(r.ratio, 3), "round_ratios": [round(x, 3) for x in r.round_ratios],
            "topology": r.topology,
            "baseline_commit": r.baseline_commit,
            "worker_cpu_ms_per_message": (round(r.worker_cpu_seconds * 1000 / len(c.throughput.ok), 3)
                                          if not math.isnan(r.worker_cpu_seconds) and c.throughput.ok else None),
            "latency_rate": round(c.latency_rate, 1),
            "ws_p50_ms": round(percentile(c.ws_ms, 50), 2), "ws_p99_ms": round(r.ws_p99, 2),
            "civdesk_http_p50_ms": round(percentile(c.latency.http_ms, 50), 2),
            "civdesk_http_p99_ms": round(percentile(c.latency.http_ms, 99), 2),
            "baseline_http_p50_ms": round(percentile(b.latency.http_ms, 50), 2),
            "baseline_http_p99_ms": round(percentile(b.latency.http_ms, 99), 2),
            "civdesk_cpu_ms_per_msg": round(c.throughput.cpu_ms_per_message(), 3),
            "baseline_cpu_ms_per_msg": round(b.throughput.cpu_ms_per_message(), 3),
            "events_missing": c.events_missing_throughput + c.events_missing_latency,
            "phase1_cores_busy": {
                name: {"server": round(m.throughput.cpu_seconds / m.throughput.elapsed, 2),
                       "client": round(m.throughput.client_cpu_seconds / m.throughput.elapsed, 2),
                       "machine": round(m.throughput.machine_busy_seconds / m.throughput.elapsed, 2)}
                for name, m in (("civdesk", c), ("baseline", b))
            },
        }
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", default="sqlite,postgresql",
                        help="comma-separated: sqlite, postgresql (default both)")
    parser.add_argument("--requests", type=int, default=2000, help="webhooks in phase 1 (and at most in phase 2)")
    parser.add_argument("--concurrency", type=int, default=32, help="closed-loop senders in phase 1")
    parser.add_argument("--rounds", type=int, default=4,
                        help="phase 1 alternates civdesk and baseline in this many rounds of requests/rounds each")
    parser.add_argument("--warmup", type=int, default=200, help="unmeasured webhooks before phase 1")
    parser.add_argument("--latency-seconds", type=float, default=10.0, help="length of phase 2 at half the maximum")
    parser.add_argument("--min-latency-samples", type=int, default=500)
    parser.add_argument("--chats", type=int, default=5000, help="most distinct private chats")
    parser.add_argument("--new-chat-share", type=float, default=0.4,
                        help="share of webhooks from a chat not seen before (default 0.4)")
    parser.add_argument("--photo-share", type=float, default=0.1,
                        help="share of webhooks that are a photo with a caption (default 0.1)")
    parser.add_argument("--max-phase-seconds", type=float, default=120.0, help="bound on each phase")
    parser.add_argument("--postgres-url", default=None,
                        help="server to create a throwaway database on (default $CIVDESK_TEST_POSTGRES_URL)")
    parser.add_argument("--redis-url", default=None,
                        help="run civdesk with the Redis bus (with --worker separate, default $CIVDESK_TEST_REDIS_URL)")
    parser.add_argument("--worker", choices=("embedded", "separate"), default="embedded",
                        help="civdesk's worker inside the web process (default) or, on PostgreSQL, in a "
                             "`civdesk worker` of its own, with the Redis bus")
    parser.add_argument("--baseline-commit", choices=tuple(BASELINE_COMMIT), default="transaction",
                        help="the baseline's INSERT in a transaction as SQLAlchemy runs it (BEGIN, INSERT, COMMIT: the "
                             "issue's baseline), or in autocommit mode (PostgreSQL only: one round trip, stricter)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    parser.add_argument("--profile-dir", type=Path, default=None,
                        help="run the civdesk server under cProfile, writing civdesk-<backend>.prof here")
    parser.add_argument("--keep-logs", action="store_true", help="keep the temp dir with the server logs")
    args = parser.parse_args(argv)
    args.backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if args.rounds < 1 or args.requests < args.rounds or args.concurrency < 1:
        parser.error("need --rounds >= 1, --requests >= --rounds and --concurrency >= 1")
    unknown = set(args.backends) - {"sqlite", "postgresql"}
    if unknown:
        parser.error(f"unknown backend(s): {', '.join(sorted(unknown))}")
    if args.redis_url and not args.redis_url.startswith(("redis://127.0.0.1", "redis://localhost")):
        parser.error("--redis-url must point at 127.0.0.1")
    return args


async def main_async(args: argparse.Namespace) -> list[BackendReport]:
    reports = []
    for backend in args.backends:
        reports.append(await run_backend(backend, args))
    return reports


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    busy = background_load()
    args.background_cores = busy
    say(f"background load before the run: {busy:.2f} of {os.cpu_count()} cores busy"
        + (" — the machine is not quiet; expect noisy figures" if busy > 0.2 else ""))
    reports = asyncio.run(main_async(args))
    say(render(reports, args))
    say(f"\ntook {time.monotonic() - started:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(as_json(reports, args), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
