"""Routing at scale: one assignment decision among 5,000 online agents with 100,000 open conversations,
and timers firing on time with 100,000 pending.

    eval "$(bash scripts/test-services.sh start)"      # PostgreSQL on 127.0.0.1 (optional)
    .venv/bin/python bench/routing.py [--backends sqlite,postgresql] [--agents 5000] [--open 100000]

Per backend, on a fresh migrated database (seeded with Core bulk inserts, not timed):

* Decisions. One agency with 20 topics; every agent online, skilled in 3 topics, capacity 30; the
  open conversations are spread over the agents (about 20 each), so every decision ranks among
  ~750 skilled agents of ~5,000 online. Then `--decisions` new conversations, each routed exactly as a
  worker routes it on its route timer (`civdesk.routing.decide.route_conversation`: the conversation's
  row lock, ranking, sticky check, capacity claim, assignment, decision record, reassignment timer,
  event), one transaction per decision, committed. Beside it, in the same loop, the baseline: one
  `SELECT … FOR UPDATE` of a conversation by primary key and a commit, the cheapest transaction a
  decision could be. Also timed alone: the choice (the ranking query that finds who is eligible and
  who is best), and the same choice for a conversation without a topic (the agency's general queue, all
  its agents; for information, not the goal's case). Goal: p99 of a decision < 5 ms.
* Timers. `--pending` timers due in an hour (never fired here) plus `--probes` probes due at
  random instants over the next `--spread` seconds and a burst of `--burst` timers due at one
  instant, fired by civdesk's TimerWorker (the one `civdesk worker` runs). Lateness = when the
  handler ran − due time. Baseline: the same probes and burst with no other timers pending.
  Goal: every timer fires within 2 s of due.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent / "src"))

from sqlalchemy import Table, create_engine, insert, select, text  # noqa: E402

from civdesk.agency.models import Agency, Topic  # noqa: E402
from civdesk.agent.models import Agent  # noqa: E402
from civdesk.channel.models import Channel  # noqa: E402
from civdesk.contact.models import Contact  # noqa: E402
from civdesk.conversation.models import Conversation  # noqa: E402
from civdesk.core.clock import now  # noqa: E402
from civdesk.db.session import create_engine_for, create_sessionmaker, reading, sync_url  # noqa: E402
from civdesk.presence.models import AgentPresence  # noqa: E402
from civdesk.realtime import service as realtime_service  # noqa: E402
from civdesk.routing import assign, decide  # noqa: E402
from civdesk.routing import config as routing_config  # noqa: E402
from civdesk.routing.models import AgentLoad, AgentSkill, TopicRoster  # noqa: E402
from civdesk.runtime import ready_to_serve, run  # noqa: E402
from civdesk.timer import service as timer_service  # noqa: E402
from civdesk.timer.models import Timer  # noqa: E402
from civdesk.timer.worker import TimerWorker  # noqa: E402
from common import background_load, fresh_database  # noqa: E402

TOPICS = 20
SKILLS_PER_AGENT = 3
CAPACITY = 30
DECISION_GOAL_MS = 5.0
TIMER_GOAL_S = 2.0


def say(line: str) -> None:
    print(line, flush=True)


def _table(model: Any) -> Table:
    return model.__table__  # type: ignore[no-any-return]


def seed(url: str, *, agents: int, open_conversations: int, queued: int, seed_value: int) -> dict[str, Any]:
    """The agency, its agents and their load, as Core bulk inserts in one transaction."""
    rng = random.Random(seed_value)
    engine = create_engine(sync_url(url))
    stamp = now()
    chunk = 5000
    with engine.begin() as conn:
        agency_id = conn.execute(
            insert(_table(Agency)).returning(_table(Agency).c.id),
            {"slug": "bench", "name": "Bench agency", "time_zone": "Europe/Kyiv", "languages": ["uk"],
             "working_hours": None, "triage_enabled": False, "queue_notices": False, "default_strategy": "balanced",
             "reassign_after_seconds": 300, "first_response_seconds": 600, "next_response_seconds": 900,
             "resolution_seconds": 172800, "created_at": stamp},
        ).scalar_one()
        topic_ids = [
            conn.execute(
                insert(_table(Topic)).returning(_table(Topic).c.id),
                {"agency_id": agency_id, "slug": f"t{i}", "name": f"Topic {i}", "names": {}, "keywords": [],
                 "strategy": None, "priority": 0, "created_at": stamp},
            ).scalar_one()
            for i in range(TOPICS)
        ]
        channel_id = conn.execute(
            insert(_table(Channel)).returning(_table(Channel).c.id),
            {"agency_id": agency_id, "type": "webchat", "name": "bench", "config": {}, "secrets": {},
             "is_active": True, "created_at": stamp},
        ).scalar_one()
        agent_rows = [
            {"agency_id": agency_id, "email": f"a{i}@bench.test", "password_hash": "x", "name": f"Agent {i}",
             "role": "agent", "region": None, "capacity": CAPACITY, "is_active": True, "created_at": stamp}
            for i in range(agents)
        ]
        conn.execute(insert(_table(Agent)), agent_rows)
        agent_ids = list(conn.execute(select(_table(Agent).c.id).where(_table(Agent).c.agency_id == agency_id)
                                      .order_by(_table(Agent).c.id)).scalars())
        conn.execute(insert(_table(AgentPresence)), [
            {"agent_id": a, "agency_id": agency_id, "status": "online", "changed_at": stamp, "seen_at": stamp}
            for a in agent_ids
        ])
        skills = []
        for a in agent_ids:
            for t in rng.sample(topic_ids, SKILLS_PER_AGENT):
                skills.append({"agent_id": a, "topic_id": t, "level": rng.randint(1, 5)})
        conn.execute(insert(_table(AgentSkill)), skills)
        loads = {a: 0 for a in agent_ids}
        total = open_conversations + queued
        contact_ids: list[int] = []
        for start in range(0, total, chunk):
            rows = [{"agency_id": agency_id, "display_name": f"Citizen {i}", "language": "uk", "created_at": stamp}
                    for i in range(start, min(start + chunk, total))]
            contact_ids += list(conn.execute(insert(_table(Contact)).returning(_table(Contact).c.id), rows).scalars())
        conversations = []
        for i, contact_id in enumerate(contact_ids):
            waiting = i >= open_conversations
            assignee = None if waiting else rng.choice(agent_ids)
            if assignee is not None:
                loads[assignee] += 1
            conversations.append({
                "agency_id": agency_id, "channel_id": channel_id, "contact_id": contact_id,
                "topic_id": rng.choice(topic_ids), "assignee_id": assignee, "status": "open", "created_at": stamp,
                "last_message_at": stamp, "language": "uk", "priority": 0, "triage_pending": False,
                "queued_at": stamp if waiting else None, "assigned_at": None if waiting else stamp,
                "awaiting_since": stamp, "transfer_count": 0,
            })
        for start in range(0, len(conversations), chunk):
            conn.execute(insert(_table(Conversation)), conversations[start:start + chunk])
        roster = {a: {"agency_id": agency_id, "open_count": min(n, CAPACITY - 1), "capacity": CAPACITY,
                      "online": True, "last_assigned_at": stamp} for a, n in loads.items()}
        conn.execute(insert(_table(AgentLoad)), [{"agent_id": a, **row} for a, row in roster.items()])
        # Each skill's topic row, as `assign` keeps it: the level, and a copy of the agent's roster row.
        conn.execute(insert(_table(TopicRoster)), [skill | roster[skill["agent_id"]] for skill in skills])
        queued_ids = list(conn.execute(
            select(_table(Conversation).c.id).where(_table(Conversation).c.queued_at.is_not(None))
            .order_by(_table(Conversation).c.id)
        ).scalars())
        if engine.dialect.name == "postgresql":
            conn.execute(text("ANALYZE"))
    engine.dispose()
    return {"agency_id": agency_id, "queued_ids": queued_ids}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def decisions(
    url: str, world: dict[str, Any], count: int
) -> tuple[list[float], list[float], list[float], list[float], int]:
    engine = create_engine_for(url)
    sessionmaker = create_sessionmaker(engine)
    decided: list[float] = []
    choices: list[float] = []
    general: list[float] = []
    baseline: list[float] = []
    assigned = 0
    conversation = _table(Conversation)
    try:
        routing_config.forget(world["agency_id"])
        for conversation_id in world["queued_ids"][:count]:
            started = time.perf_counter()
            async with sessionmaker() as session:
                await session.execute(select(conversation.c.id).where(conversation.c.id == conversation_id)
                                      .with_for_update())
                await session.commit()
            baseline.append((time.perf_counter() - started) * 1000)

            # The choice alone: who is eligible, who is best. It changes nothing, and it ends with COMMIT as
            # civdesk's reads do (db.session.reading): a ROLLBACK would make psycopg forget the statements
            # it prepared on the connection, and the decision after it would parse and plan them anew.
            async with reading(sessionmaker) as session:
                row = await assign.lock_conversation(session=session, conversation_id=conversation_id)
                cfg = await routing_config.load(session=session, agency_id=row.agency_id)
                started = time.perf_counter()
                await assign.rank(session=session, cfg=cfg, topic_id=row.topic_id, language=row.language,
                                  strategy="balanced", sticky_to=row.last_helper_id)
                choices.append((time.perf_counter() - started) * 1000)

            started = time.perf_counter()
            async with sessionmaker() as session:
                routed = await decide.route_conversation(session=session, conversation_id=conversation_id,
                                                         agency_id=world["agency_id"])
                await realtime_service.commit(session)
            decided.append((time.perf_counter() - started) * 1000)
            assigned += routed is decide.Routed.ASSIGNED
        # The choice for a conversation with no topic: the agency's general queue, all its agents (after
        # the decisions, so that it does not stand between them).
        for _ in range(max(1, count // 10)):
            async with reading(sessionmaker) as session:
                cfg = await routing_config.load(session=session, agency_id=world["agency_id"])
                started = time.perf_counter()
                await assign.rank(session=session, cfg=cfg, topic_id=None, language="uk", strategy="balanced",
                                  sticky_to=None)
                general.append((time.perf_counter() - started) * 1000)
    finally:
        await engine.dispose()
    return decided, choices, general, baseline, assigned


async def timers(url: str, *, pending: int, probes: int, burst: int, spread: float) -> list[float]:
    """Lateness of the probes and the burst, in seconds, with `pending` other timers waiting."""
    engine = create_engine_for(url)
    sessionmaker = create_sessionmaker(engine)
    timer = _table(Timer)
    late: list[float] = []
    try:
        async with engine.begin() as conn:
            await conn.execute(text("DELETE FROM timer"))
            later = now() + timedelta(hours=1)
            for start in range(0, pending, 10000):
                await conn.execute(insert(timer), [
                    {"kind": "bench_idle", "due_at": later, "status": "pending", "attempts": 0, "payload": {},
                     "created_at": now()} for _ in range(start, min(start + 10000, pending))
                ])
            begin = now() + timedelta(seconds=1.5)
            rng = random.Random(11)
            rows = [{"kind": "bench_probe", "due_at": begin + timedelta(seconds=rng.uniform(0, spread)),
                     "status": "pending", "attempts": 0, "payload": {}, "created_at": now()} for _ in range(probes)]
            burst_at = begin + timedelta(seconds=spread / 2)
            rows += [{"kind": "bench_probe", "due_at": burst_at, "status": "pending", "attempts": 0, "payload": {},
                      "created_at": now()} for _ in range(burst)]
            await conn.execute(insert(timer), rows)
            if engine.dialect.name == "postgresql":
                await conn.execute(text("ANALYZE timer"))

        async def probe(session: Any, claimed: timer_service.ClaimedTimer) -> None:
            late.append((now() - claimed.due_at).total_seconds())

        worker = TimerWorker(sessionmaker=sessionmaker, handlers={"bench_probe": probe})
        stop = asyncio.Event()
        task = asyncio.create_task(worker.run(stop))
        deadline = time.monotonic() + spread + 60
        while len(late) < probes + burst and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        stop.set()
        await asyncio.wait_for(task, timeout=10)
    finally:
        await engine.dispose()
    return late


def row(label: str, values: list[float], unit: str, scale: float = 1.0) -> str:
    if not values:
        return f"{label:<34} (none)"
    return (f"{label:<34} p50 {percentile(values, .5) * scale:8.2f} {unit}  p99 {percentile(values, .99) * scale:8.2f} "
            f"{unit}  max {max(values) * scale:8.2f} {unit}  n={len(values)}")


async def run_backend(backend: str, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    postgres_url = args.postgres_url or os.environ.get("CIVDESK_TEST_POSTGRES_URL")
    if backend == "postgresql" and not postgres_url:
        say("postgresql: skipped (no --postgres-url or CIVDESK_TEST_POSTGRES_URL)")
        return {}
    with fresh_database(backend, workdir=workdir, postgres_url=postgres_url, name="civdesk-routing") as database:
        started = time.perf_counter()
        world = seed(database.url, agents=args.agents, open_conversations=args.open, queued=args.decisions,
                     seed_value=args.seed)
        say(f"{backend}: seeded {args.agents} online agents and {args.open} open conversations "
            f"in {time.perf_counter() - started:.0f} s")
        ready_to_serve()  # as `civdesk worker` is before it takes its first timer
        decided, choices, general, baseline, assigned = await decisions(database.url, world, args.decisions)
        say(row(f"{backend} decision, whole transaction", decided, "ms"))
        say(row(f"{backend} choice alone (ranking query)", choices, "ms"))
        say(row(f"{backend} choice, general queue", general, "ms"))
        say(row(f"{backend} baseline (lock + commit)", baseline, "ms"))
        ratio = percentile(decided, .99) / percentile(baseline, .99)
        say(f"{backend}: {assigned} of {len(decided)} decisions assigned an agent; p99 ratio to baseline {ratio:.1f}×")
        with_backlog = await timers(database.url, pending=args.pending, probes=args.probes, burst=args.burst,
                                    spread=args.spread)
        say(row(f"{backend} timer lateness, {args.pending} pending", with_backlog, "s"))
        empty = await timers(database.url, pending=0, probes=args.probes, burst=args.burst, spread=args.spread)
        say(row(f"{backend} timer lateness, baseline 0 pending", empty, "s"))
        fired_all = len(with_backlog) == args.probes + args.burst
        return {
            "decision_p99_ms": percentile(decided, .99),
            "choice_p99_ms": percentile(choices, .99),
            "baseline_p99_ms": percentile(baseline, .99),
            "timer_max_s": max(with_backlog) if with_backlog else float("inf"),
            "timer_baseline_max_s": max(empty) if empty else float("inf"),
            "fired_all": fired_all,
        }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--agents", type=int, default=5000)
    parser.add_argument("--open", type=int, default=100_000)
    parser.add_argument("--decisions", type=int, default=2000)
    parser.add_argument("--pending", type=int, default=100_000)
    parser.add_argument("--probes", type=int, default=500)
    parser.add_argument("--burst", type=int, default=2000)
    parser.add_argument("--spread", type=float, default=20.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--postgres-url")
    args = parser.parse_args()
    say(f"routing bench: {args.agents} agents, {args.open} open conversations, {args.decisions} decisions; "
        f"{args.pending} pending timers, {args.probes} probes over {args.spread:.0f} s + a burst of {args.burst}; "
        f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, background load {background_load():.2f} cores")
    results = {}
    with tempfile.TemporaryDirectory(prefix="civdesk-routing-") as workdir:
        for backend in args.backends.split(","):
            results[backend] = await run_backend(backend, args, Path(workdir))
    say("")
    for backend, found in results.items():
        if not found:
            continue
        decision = "PASS" if found["decision_p99_ms"] < DECISION_GOAL_MS else "FAIL"
        timer_ok = "PASS" if found["fired_all"] and found["timer_max_s"] < TIMER_GOAL_S else "FAIL"
        say(f"{backend}: decision p99 {found['decision_p99_ms']:.2f} ms (goal < {DECISION_GOAL_MS} ms) {decision}, "
            f"of which the choice p99 {found['choice_p99_ms']:.2f} ms; "
            f"latest timer {found['timer_max_s']:.2f} s after due (goal < {TIMER_GOAL_S} s; "
            f"{found['timer_baseline_max_s']:.2f} s with nothing pending) {timer_ok}")
    say("(a missed goal is a finding, not a crash: the exit status stays 0)")


if __name__ == "__main__":
    run(main())  # on the event loop `civdesk worker` runs on (uvloop where installed)
