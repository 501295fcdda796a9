"""Choosing an agent, and keeping every agent's load exact.

An agent is eligible when active, online, under capacity, skilled in the conversation's topic (any
agent for the general queue) and, for a language other than the agency's first, speaking it. The
load lives in `agent_load` and changes only through `claim_capacity`/`release`, whose conditional
statements lock the agent's row: two workers deciding at once can never push an agent past capacity,
and a conversation row locked FOR UPDATE is assigned once. In the same transaction (the claim on
PostgreSQL: in the same statement) the agent's row is copied onto their topics' rows (`topic_roster`),
which a topic's ranking reads.
"""

from __future__ import annotations

import enum
import functools
import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Integer,
    Select,
    Table,
    and_,
    any_,
    bindparam,
    case,
    delete,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    true,
    union,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession

from civdesk.agent.models import Agent
from civdesk.channel.models import Channel
from civdesk.contact.models import Contact
from civdesk.conversation.models import Conversation, Status
from civdesk.conversation.schemas import ConversationRead
from civdesk.core.clock import as_utc, now
from civdesk.db import direct, writes
from civdesk.db.session import connection_of
from civdesk.routing.config import AgencyRouting
from civdesk.routing.models import AgentLanguage, AgentLoad, AgentSkill, RoutingDecision, Strategy, TopicRoster

_load = cast(Table, AgentLoad.__table__)
_topics = cast(Table, TopicRoster.__table__)
_skill = cast(Table, AgentSkill.__table__)
_decision = cast(Table, RoutingDecision.__table__)
_conversation = cast(Table, Conversation.__table__)
_channel = cast(Table, Channel.__table__)
_contact = cast(Table, Contact.__table__)
CANDIDATES_RECORDED = 10


@dataclass(frozen=True)
class Candidate:
    agent_id: int
    load: int
    capacity: int
    level: int
    sticky: bool = False  # last helped this citizen

    def as_record(self) -> dict[str, int]:
        return {"agent_id": self.agent_id, "load": self.load, "capacity": self.capacity, "level": self.level}


@dataclass(frozen=True)
class Ranking:
    candidates: tuple[Candidate, ...]
    eligible_count: int


async def rank(
    *,
    session: AsyncSession,
    cfg: AgencyRouting,
    topic_id: int | None,
    language: str | None,
    strategy: str,
    exclude: Collection[int] = (),
    sticky_to: int | None = None,
    limit: int = CANDIDATES_RECORDED,
) -> Ranking:
    """The eligible agents, best first by the strategy, and how many there are in all. `sticky_to`
    (the agent who last helped this citizen) ranks first when eligible."""
    conn = await connection_of(session)
    shape, params = _ranking_inputs(
        cfg=cfg,
        topic_id=topic_id,
        language=language,
        strategy=strategy,
        exclude=exclude,
        sticky_to=sticky_to,
        limit=limit,
    )
    return _ranking_of(await direct.read(conn, _ranking_query(shape), params))


@dataclass(frozen=True)
class Choice:
    ranking: Ranking
    chosen: Candidate | None
    contended: bool  # an eligible agent's row was held by another decision at that moment


async def choose(
    *,
    session: AsyncSession,
    cfg: AgencyRouting,
    topic_id: int | None,
    language: str | None,
    strategy: str,
    exclude: Collection[int] = (),
    sticky_to: int | None = None,
) -> Choice:
    """Ranks the eligible and claims capacity on the best one who still has room. On PostgreSQL both
    happen in one statement (one round trip less per decision): the claim takes the first ranked agent
    whose row no other decision holds (SKIP LOCKED, so decisions never wait on each other in a cycle)
    and who is still under capacity once locked. Elsewhere (SQLite: one writer at a time, no round
    trips) the candidates are claimed in turn."""
    conn = await connection_of(session)
    shape, params = _ranking_inputs(
        cfg=cfg,
        topic_id=topic_id,
        language=language,
        strategy=strategy,
        exclude=exclude,
        sticky_to=sticky_to,
        limit=CANDIDATES_RECORDED,
    )
    if conn.dialect.name == "postgresql":
        params |= {"claim_moment": now(), "claim_agency": cfg.id}
        rows = await direct.read(conn, _rank_and_claim(shape), params)
        ranking = _ranking_of(rows)
        claimed = rows[0].claimed if rows else None
        chosen = next((c for c in ranking.candidates if c.agent_id == claimed), None)
        # Ranked with room a moment ago, yet none claimed: other decisions held them (or filled them).
        return Choice(ranking, chosen, contended=chosen is None and bool(rows))
    ranking = _ranking_of(await direct.read(conn, _ranking_query(shape), params))
    contended = False
    for candidate in ranking.candidates:
        claim = await claim_capacity(
            session=session, agent_id=candidate.agent_id, agency_id=cfg.id, capacity=candidate.capacity
        )
        if claim is Claim.TAKEN:
            return Choice(ranking, candidate, contended=False)
        contended |= claim is Claim.BUSY
    return Choice(ranking, None, contended)


def _ranking_inputs(
    *,
    cfg: AgencyRouting,
    topic_id: int | None,
    language: str | None,
    strategy: str,
    exclude: Collection[int],
    sticky_to: int | None,
    limit: int,
) -> tuple[_Shape, dict[str, Any]]:
    """The ranking statement's shape (what changes its text) and its bind parameters."""
    shape = _Shape(
        topic=topic_id is not None,
        other_language=bool(language) and language != cfg.primary_language,
        exclude=bool(exclude),
        sticky=sticky_to is not None,
        round_robin=strategy == Strategy.ROUND_ROBIN.value,
    )
    params: dict[str, Any] = {
        "agency_id": cfg.id,
        "topic": topic_id,  # not "topic_id": the rank-and-claim updates topic_roster, whose column it is
        "language": language,
        "sticky_to": sticky_to,
        "limit": limit,
    }
    if exclude:
        params["exclude"] = list(exclude)
    return shape, params


def _ranking_of(rows: Sequence[Any]) -> Ranking:
    return Ranking(
        candidates=tuple(Candidate(r.id, r.load, r.capacity, r.level, bool(r.sticky)) for r in rows),
        eligible_count=rows[0].total if rows else 0,
    )


@dataclass(frozen=True)
class _Shape:
    """What decides the ranking statement's text; its values are bind parameters."""

    topic: bool
    other_language: bool
    exclude: bool
    sticky: bool
    round_robin: bool


@functools.cache
def _ranking_query(shape: _Shape) -> Select[Any]:
    """Built once per shape with bind parameters: SQLAlchemy then keys and compiles it once, which
    costs more than the query itself when built anew for every decision."""
    return _best(*_eligible(shape))


@functools.cache
def _rank_and_claim(shape: _Shape) -> Select[Any]:
    """PostgreSQL: the ranking, and the claim on the first ranked agent still free, as one statement.
    The ranked few carry their sort keys, so ordering them again costs nothing (a window numbering
    them would sort every eligible agent instead of keeping the best few). The UPDATE re-checks the
    capacity on the row it locked, which is the newest version even if another decision just
    committed a claim on it."""
    query, keys = _eligible(shape)
    ranked = _best(_with_keys(query, keys), keys).cte("ranked")
    claiming = _claiming(ranked, _in_order(ranked, keys))
    return (
        select(ranked.c.id, ranked.c.capacity, ranked.c.load, ranked.c.level, ranked.c.sticky, ranked.c.total)
        .add_columns(claiming.claimed)
        .add_cte(claiming.copied)
        .order_by(*claiming.best_first)
    )


@dataclass(frozen=True)
class _Claiming:
    """The parts of a statement that ranks and claims (`_rank_and_claim`, `_lock_rank_and_claim`)."""

    ranked: Any  # CTE: the best few, with their sort keys
    best_first: list[Any]  # the order of `ranked`
    claimed: Any  # the claimed agent's id (NULL when none was), a column
    copied: Any  # CTE: the claimed agent's topic rows take the new load


def _with_keys(query: Select[Any], keys: list[_Key]) -> Select[Any]:
    """The ranked carry their sort keys (`key_0` …), so that ordering them again costs nothing."""
    return query.add_columns(*(key.value.label(f"key_{n}") for n, key in enumerate(keys)))


def _in_order(ranked: Any, keys: list[_Key]) -> list[Any]:
    """The order of `keys` on the sort keys `ranked` carries (`_with_keys`)."""
    return [key.on(ranked.c[f"key_{n}"]) for n, key in enumerate(keys)]


def _claiming(ranked: Any, best_first: list[Any]) -> _Claiming:
    held = _load.alias("held")
    free = (
        select(held.c.agent_id)
        .join(ranked, ranked.c.id == held.c.agent_id)
        # Checked again on the newest version of the row once locked: ranked from the statement's snapshot,
        # an agent may have filled up or gone offline since.
        .where(held.c.open_count < held.c.capacity, held.c.online.is_(True))
        .order_by(*best_first)
        .limit(literal_column("1"))
        .with_for_update(of=held, skip_locked=True)
        .scalar_subquery()
    )
    claimed = (
        update(_load)
        .where(_load.c.agent_id == free, _load.c.open_count < _load.c.capacity)
        .values(_claimed())
        .returning(*(_load.c[name] for name in ("agent_id", *_COPIED)))
        .cte("claimed")
    )
    # In the same statement (which sees no row it changed), so the copy is made from the claim's own result.
    copied = (
        update(_topics)
        .where(_topics.c.agent_id == claimed.c.agent_id)
        .values({name: claimed.c[name] for name in _COPIED})
        .cte("copied")
    )
    return _Claiming(ranked, best_first, select(claimed.c.agent_id).scalar_subquery().label("claimed"), copied)


def _best(query: Select[Any], keys: Sequence[_Key], limit: Any = None) -> Select[Any]:
    """The first `limit` rows of `query` in the order of `keys` (by default the bind parameter `limit`)."""
    limit = bindparam("limit", type_=Integer) if limit is None else limit
    return query.order_by(*(key.on(key.value) for key in keys)).limit(limit)


@dataclass(frozen=True)
class _Key:
    """One sort key of a ranking: the expression, and how it orders."""

    value: Any
    descending: bool = False
    nulls_first: bool = False

    def on(self, column: Any) -> Any:
        ordered = column.desc() if self.descending else column.asc()
        return ordered.nulls_first() if self.nulls_first else ordered


def _eligible(
    shape: _Shape, topic: Any = None, agency: Any = None, sticky_to: Any = None
) -> tuple[Select[Any], list[_Key]]:
    """The eligible agents (with the columns a ranking reports) and the strategy's sort keys, best first.
    A topic's come from its own roster rows, whose index holds them in the order of the least loaded:
    the first few come off it without sorting the rest, and everyone eligible is counted from the index
    alone (a window count would read every row). The general queue's come from the agency's roster.
    `topic`, `agency`, `sticky_to`: as expressions (by default the bind parameters of those names, the
    agency's `agency_id`)."""
    topic = bindparam("topic") if topic is None else topic
    agency = bindparam("agency_id") if agency is None else agency
    sticky_to = bindparam("sticky_to") if sticky_to is None else sticky_to
    roster = _topics if shape.topic else _load
    load = roster.c.open_count
    level: Any = roster.c.level if shape.topic else literal(0)
    # The agent who last helped this citizen comes first when eligible (another agency's never is).
    first: Any = (roster.c.agent_id == sticky_to) if shape.sticky else literal(False)
    source: Any = roster
    ratio: Any = roster.c.load_ratio
    # The index's columns in its order (`ix_topic_roster_best`, `ix_agent_load_best`); a load ratio under 1
    # is a load under capacity.
    conditions = [roster.c.topic_id == topic] if shape.topic else []
    conditions += [roster.c.agency_id == agency, roster.c.online == true(), ratio < literal_column("1")]
    if shape.other_language:
        source = source.join(
            AgentLanguage,
            and_(AgentLanguage.agent_id == roster.c.agent_id, AgentLanguage.language == bindparam("language")),
        )
    if shape.exclude:
        conditions.append(roster.c.agent_id.not_in(bindparam("exclude", expanding=True)))
    # Uncorrelated: the count reads the table on its own, not the outer query's current row.
    everyone = select(func.count()).select_from(source).where(*conditions).correlate(None).scalar_subquery()
    query = (
        select(
            roster.c.agent_id.label("id"),
            roster.c.capacity,
            load.label("load"),
            level.label("level"),
            first.label("sticky"),
            everyone.label("total"),
        )
        .select_from(source)
        .where(*conditions)
    )
    ahead = [_Key(first, descending=True)] if shape.sticky else []
    idle = _Key(roster.c.last_assigned_at, nulls_first=True)  # the longest ago first, never assigned before all
    if shape.round_robin:
        return query, [*ahead, idle, _Key(roster.c.agent_id)]
    # balanced: the lightest load relative to capacity, then the most skilled, then the longest idle
    return query, [*ahead, _Key(ratio), _Key(level, descending=True), idle, _Key(roster.c.agent_id)]


class Claim(enum.Enum):
    TAKEN = "taken"
    FULL = "full"
    BUSY = "busy"  # another transaction holds the agent's row right now


async def claim_capacity(*, session: AsyncSession, agent_id: int, agency_id: int, capacity: int | None) -> Claim:
    """Counts one more conversation for the agent, only while under `capacity` (None: no limit, for
    an agent who chose to take one). The agent's row is locked until commit, so concurrent claims
    queue up and none can pass the capacity. The common case is one conditional UPDATE. (A worker's
    decision on PostgreSQL claims inside its ranking statement instead, skipping held rows: `choose`.)"""
    if capacity is not None and capacity <= 0:
        return Claim.FULL
    conn = await connection_of(session)
    claim = _claim_statement(limited=capacity is not None)
    params = {"claim_agent": agent_id, "claim_capacity": capacity, "claim_moment": now(), "claim_agency": agency_id}
    if (await conn.execute(claim, params)).first() is not None:
        await _copy_to_topics(conn, agent_id)
        return Claim.TAKEN
    current = await conn.scalar(_OPEN_COUNT, {"agent_id": agent_id})
    if current is None:  # the agent's first conversation ever: create the row, then claim again
        await roster(session=session, agent_id=agent_id, agency_id=agency_id)
        return await claim_capacity(session=session, agent_id=agent_id, agency_id=agency_id, capacity=capacity)
    return Claim.FULL if capacity is not None and current >= capacity else Claim.BUSY


_OPEN_COUNT = select(_load.c.open_count).where(_load.c.agent_id == bindparam("agent_id"))


def _claimed() -> dict[str, Any]:
    """What a claim writes on the agent's roster row (both claim statements)."""
    return {
        "open_count": _load.c.open_count + 1,
        "last_assigned_at": bindparam("claim_moment"),
        "agency_id": bindparam("claim_agency"),
    }


# The roster columns a claim sets, which the claimed agent's topic rows then copy.
_COPIED = tuple(_claimed())


@functools.cache
def _claim_statement(*, limited: bool) -> Any:
    # Bind names other than the columns' own: an UPDATE reserves those for its SET clause.
    under = (_load.c.open_count < bindparam("claim_capacity")) if limited else literal(True)
    return (
        update(_load)
        .where(_load.c.agent_id == bindparam("claim_agent"), under)
        .values(_claimed())
        .returning(_load.c.open_count)
    )


async def release(*, session: AsyncSession, agent_id: int | None) -> None:
    if agent_id is None:
        return
    conn = await connection_of(session)
    await conn.execute(
        update(_load)
        .where(_load.c.agent_id == agent_id)
        .values(open_count=case((_load.c.open_count > 0, _load.c.open_count - 1), else_=0))
    )
    await _copy_to_topics(conn, agent_id)


def _copy_statements() -> dict[str, Any]:
    """Per dialect: the agent's topic rows (one per skill) made or refreshed from their roster row."""
    columns = ("agency_id", "online", "open_count", "capacity", "last_assigned_at")
    rows = (
        select(_skill.c.agent_id, _skill.c.topic_id, _skill.c.level, *(_load.c[name] for name in columns))
        .join(_load, _load.c.agent_id == _skill.c.agent_id)
        .where(_skill.c.agent_id == bindparam("agent_id"))
    )
    statements = {}
    for dialect in (postgresql, sqlite):
        upsert = dialect.insert(_topics).from_select(["agent_id", "topic_id", "level", *columns], rows)
        refreshed = {name: upsert.excluded[name] for name in ("level", *columns)}
        statements[dialect.dialect.name] = upsert.on_conflict_do_update(
            index_elements=["agent_id", "topic_id"], set_=refreshed
        )
    return statements


_COPY_TO_TOPICS = _copy_statements()


async def _copy_to_topics(conn: Any, agent_id: int) -> None:
    """After any change to the agent's roster row or skills, in the same transaction (the roster row
    is locked by then, so two copies of one agent never cross). The claims of `_rank_and_claim` and
    `_lock_rank_and_claim` copy themselves (`_claiming`)."""
    await conn.execute(_COPY_TO_TOPICS[conn.dialect.name], {"agent_id": agent_id})


_helper = _conversation.alias("earlier")
# Who last helped this citizen (sticky routing), read with the lock: the citizen's own index serves it.
_LAST_HELPER = (
    select(_helper.c.assignee_id)
    .where(
        _helper.c.contact_id == _conversation.c.contact_id,
        _helper.c.id != _conversation.c.id,
        _helper.c.assignee_id.is_not(None),
    )
    .order_by(_helper.c.id.desc())
    .limit(1)
    .scalar_subquery()
)
_LOCK = (
    select(
        _conversation,
        _channel.c.type.label("channel_type"),
        _contact.c.display_name.label("contact_name"),
        _LAST_HELPER.label("last_helper_id"),
    )
    .join(_channel, _channel.c.id == _conversation.c.channel_id)
    .join(_contact, _contact.c.id == _conversation.c.contact_id)
)
_ONE = _LOCK.where(_conversation.c.id == bindparam("conversation_id"))
_LOCK_ONE = _ONE.with_for_update(of=_conversation)
_LOCK_ONE_UNLESS_HELD = _ONE.with_for_update(of=_conversation, skip_locked=True)  # see `_lock_rank_and_claim`


async def lock_conversation(*, session: AsyncSession, conversation_id: int) -> Any:
    """The conversation, locked until commit so one decision at a time touches it, with what its
    events need (channel type, citizen's name): no second read to tell the consoles."""
    conn = await connection_of(session)  # Core on the connection: the ORM session layer adds CPU per statement
    # On PostgreSQL straight on psycopg (as the rank-and-claim): SQLAlchemy keys both big statements by
    # walking them on every execution, which cost more CPU than running them.
    rows = await direct.read(conn, _LOCK_ONE, {"conversation_id": conversation_id})
    return rows[0] if rows else None


async def lock_and_choose(
    *, session: AsyncSession, cfg: AgencyRouting, conversation_id: int
) -> tuple[Any, Choice | None] | None:
    """PostgreSQL, a worker's routing decision in the usual case, with one round trip less: the
    conversation locked (as `lock_conversation`) and, in the same statement, the choice made and the
    capacity claimed (as `choose`) when the locked row is what that choice assumes: still routable,
    of this agency, with a topic whose strategy is balanced, in the agency's first language, and no
    agent excluded (the caller's part). The agency must be open now (the caller checks that).
    The locked row with the choice, or with None when the row is not such a case: it stays locked,
    and the caller decides as ever. None when the row is held by another transaction (or there is no
    such row), when the agency has no balanced topic, and on SQLite (no round trips to save): the
    caller then locks the row the usual way."""
    conn = await connection_of(session)
    if conn.dialect.name != "postgresql" or not cfg.balanced_topics:
        return None
    params = {
        "conversation_id": conversation_id,
        "agency_id": cfg.id,
        "primary": cfg.primary_language,
        "topics": list(cfg.balanced_topics),
        "claim_moment": now(),
        "claim_agency": cfg.id,
    }
    rows = await direct.read(conn, _lock_rank_and_claim(), params)
    if not rows:
        return None
    [locked] = rows
    if not locked.decided:
        return locked, None
    ranking = Ranking(tuple(Candidate(*c) for c in locked.candidates or ()), eligible_count=locked.eligible or 0)
    chosen = next((c for c in ranking.candidates if c.agent_id == locked.claimed), None)
    return locked, Choice(ranking, chosen, contended=chosen is None and bool(ranking.candidates))


@functools.cache
def _lock_rank_and_claim() -> Select[Any]:
    """The conversation's lock, and `_rank_and_claim` of a balanced topic's conversation, as one
    statement. The ranking reads the topic, the agency and the earlier agent from the locked row, and
    runs only when that row passes the checks, so after the lock.
    The lock does not wait for another transaction that holds the row (it returns no row then): a
    statement sees the roster as it was when it began, so after a wait it would rank from the roster as
    it was before the wait. The caller then waits with `lock_conversation` and ranks afresh.
    The ranking's agency and the LIMITs are not parameters: knowing them, every custom plan looked
    cheaper than the generic one, and PostgreSQL planned the statement anew at every execution
    (docs/performance.md)."""
    locked = _LOCK_ONE_UNLESS_HELD.cte("locked")
    decided = select(
        and_(
            locked.c.agency_id == bindparam("agency_id"),
            locked.c.status != Status.RESOLVED.value,
            locked.c.assignee_id.is_(None),
            locked.c.triage_pending.is_(False),
            or_(locked.c.language.is_(None), locked.c.language.in_(["", bindparam("primary")])),
            locked.c.topic_id == any_(bindparam("topics", type_=ARRAY(BigInteger))),
        )
    ).scalar_subquery()
    query, keys = _eligible(
        _Shape(topic=True, other_language=False, exclude=False, sticky=True, round_robin=False),
        topic=select(locked.c.topic_id).scalar_subquery(),
        agency=select(locked.c.agency_id).scalar_subquery(),
        # The agent who last helped this citizen; 0 (no agent) when nobody did.
        sticky_to=func.coalesce(select(locked.c.last_helper_id).scalar_subquery(), literal_column("0")),
    )
    # The best few in the index's order, and the earlier agent, who ranks first when eligible (the first
    # key): sorting every eligible agent by that key first would forgo the index's order.
    first, *rest = keys
    pool = _with_keys(query.where(decided), keys)
    best = _best(pool, rest, literal_column(str(CANDIDATES_RECORDED)))
    both = union(best, pool.where(first.value)).subquery("pool")
    ranked = select(both).order_by(*_in_order(both, keys)).limit(literal_column(str(CANDIDATES_RECORDED))).cte("ranked")
    claiming = _claiming(ranked, _in_order(ranked, keys))
    # One row: the locked row's columns once, with the ranked few as [[id, load, capacity, level, sticky], …].
    each = func.json_build_array(ranked.c.id, ranked.c.load, ranked.c.capacity, ranked.c.level, ranked.c.sticky)
    candidates = func.json_agg(aggregate_order_by(each, *claiming.best_first))
    return select(
        *locked.c,
        decided.label("decided"),
        select(candidates).scalar_subquery().label("candidates"),
        select(ranked.c.total).limit(literal_column("1")).scalar_subquery().label("eligible"),
        claiming.claimed,
    ).add_cte(claiming.copied)


def read_of(row: Any, **changes: Any) -> ConversationRead:
    """The event shape of a locked row, after the given changes."""
    values = {name: getattr(row, name) for name in ConversationRead.model_fields if hasattr(row, name)}
    return ConversationRead.model_validate(values | changes)


async def set_assignee(*, session: AsyncSession, conversation_id: int, agent_id: int) -> None:
    """On PostgreSQL the UPDATE travels with the decision's other writes."""
    changes = {"assignee_id": agent_id, "assigned_at": now(), "queued_at": None}
    await writes.later(await connection_of(session), writes.updating(_conversation, conversation_id, changes))


async def requeue(*, session: AsyncSession, conversation_id: int) -> None:
    """Unassigned and waiting again; it keeps its place in the queue (the time it first queued)."""
    conn = await connection_of(session)
    await conn.execute(_REQUEUE, {"conversation_id": conversation_id, "moment": now()})


_REQUEUE = (
    update(_conversation)
    .where(_conversation.c.id == bindparam("conversation_id"))
    .values(assignee_id=None, assigned_at=None, queued_at=func.coalesce(_conversation.c.queued_at, bindparam("moment")))
)


async def record(
    *,
    session: AsyncSession,
    cfg: AgencyRouting,
    conversation_id: int,
    topic_id: int | None,
    strategy: str,
    outcome: str,
    reason: str,
    chosen_agent_id: int | None = None,
    ranking: Ranking | None = None,
) -> None:
    conn = await connection_of(session)
    await writes.later(
        conn,
        writes.inserting(
            _decision,
            {
                "agency_id": cfg.id,
                "conversation_id": conversation_id,
                "topic_id": topic_id,
                "strategy": strategy,
                "outcome": outcome,
                "reason": reason,
                "chosen_agent_id": chosen_agent_id,
                "eligible_count": ranking.eligible_count if ranking else 0,
                "candidates": [c.as_record() for c in ranking.candidates] if ranking else [],
                "created_at": now(),
            },
        ),
    )


async def queue_position(
    *, session: AsyncSession, agency_id: int, topic_id: int | None, priority: int, queued_at: datetime
) -> int:
    """1 for the next conversation to be served in its queue (same agency and topic)."""
    ahead: int = (
        await session.scalar(
            select(func.count())
            .select_from(Conversation)
            .where(
                Conversation.agency_id == agency_id,
                Conversation.queued_at.is_not(None),
                Conversation.assignee_id.is_(None),
                Conversation.status != Status.RESOLVED.value,
                Conversation.topic_id.is_(None) if topic_id is None else Conversation.topic_id == topic_id,
                or_(
                    Conversation.priority > priority,
                    and_(Conversation.priority == priority, Conversation.queued_at < queued_at),
                ),
            )
        )
        or 0
    )
    return ahead + 1


async def expected_wait_minutes(
    *, session: AsyncSession, cfg: AgencyRouting, topic_id: int | None, position: int
) -> int | None:
    """Position ÷ agents who could take it × the typical handling time of the last 50 cases; None
    when nobody who could take it is online (the wait then depends on when someone comes)."""
    online = (
        await rank(session=session, cfg=cfg, topic_id=topic_id, language=None, strategy="balanced", limit=1)
    ).eligible_count
    if online == 0:
        online = await _online_skilled(session=session, cfg=cfg, topic_id=topic_id)
        if online == 0:
            return None
    rows = (
        await session.execute(
            select(Conversation.assigned_at, Conversation.resolved_at)
            .where(
                Conversation.agency_id == cfg.id,
                Conversation.status == Status.RESOLVED.value,
                Conversation.assigned_at.is_not(None),
                *([Conversation.topic_id == topic_id] if topic_id is not None else []),
            )
            .order_by(Conversation.id.desc())
            .limit(50)
        )
    ).all()
    spans = [(as_utc(r.resolved_at) - as_utc(r.assigned_at)) for r in rows if r.resolved_at and r.assigned_at]
    typical = sorted(spans)[len(spans) // 2] if spans else timedelta(minutes=10)
    minutes = math.ceil(position / online) * typical.total_seconds() / 60
    return max(1, math.ceil(minutes))


async def _online_skilled(*, session: AsyncSession, cfg: AgencyRouting, topic_id: int | None) -> int:
    query = select(func.count()).select_from(_load).where(_load.c.agency_id == cfg.id, _load.c.online.is_(True))
    if topic_id is not None:
        query = query.join(AgentSkill, and_(AgentSkill.agent_id == _load.c.agent_id, AgentSkill.topic_id == topic_id))
    return await session.scalar(query) or 0


async def roster(
    *, session: AsyncSession, agent_id: int, agency_id: int, online: bool | None = None, capacity: int | None = None
) -> None:
    """Keeps the agent's roster row in step with their presence and capacity (in the caller's transaction)."""
    conn = await connection_of(session)
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    changes: dict[str, Any] = {}
    if online is not None:
        changes["online"] = online
    if capacity is not None:
        changes["capacity"] = capacity
    own_capacity = select(Agent.capacity).where(Agent.id == agent_id).scalar_subquery()
    statement = dialect.insert(_load).values(
        agent_id=agent_id,
        agency_id=agency_id,
        open_count=0,
        capacity=capacity if capacity is not None else own_capacity,
        online=bool(online),
    )
    await conn.execute(
        statement.on_conflict_do_update(index_elements=["agent_id"], set_=changes or {"agency_id": agency_id})
    )
    await _copy_to_topics(conn, agent_id)


async def store_skills(*, session: AsyncSession, agent_id: int, agency_id: int, levels: Mapping[int, int]) -> None:
    """Sets the agent's topics and their levels (topic id → level): in `agent_skill`, and in the agent's
    topic rows, which rankings read (in the caller's transaction)."""
    await session.execute(delete(AgentSkill).where(AgentSkill.agent_id == agent_id))
    if levels:
        await session.execute(
            insert(AgentSkill), [{"agent_id": agent_id, "topic_id": t, "level": n} for t, n in levels.items()]
        )
    # Through the roster row: had another transaction just created it (the agent coming online) with the
    # topic rows of the skills it saw then, this one's copy would not see those rows. The upsert waits for
    # that transaction and then locks the row; its copy then makes or refreshes a row per skill.
    await roster(session=session, agent_id=agent_id, agency_id=agency_id)
    dropped = delete(_topics).where(_topics.c.agent_id == agent_id, _topics.c.topic_id.not_in(list(levels)))
    await session.execute(dropped)
