"""The Alembic history and the models describe the same schema, on SQLite and on PostgreSQL, and
the newest migrations go down and up again cleanly."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, insert, select, text

import civdesk.models as models
from civdesk.agency.models import Agency, Topic
from civdesk.agent.models import Agent
from civdesk.db.migrate import downgrade, upgrade
from civdesk.db.session import sync_url
from civdesk.routing.models import AgentLoad, AgentSkill, TopicRoster


def _differences(database_url: str) -> list[object]:
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection)
            return list(compare_metadata(context, models.Base.metadata))
    finally:
        engine.dispose()


def test_models_match_the_migrations_and_the_newest_ones_reverse(database_url: str) -> None:
    assert _differences(database_url) == []
    downgrade(database_url, "0003")
    upgrade(database_url)
    assert _differences(database_url) == []


def test_each_agent_on_the_roster_gets_a_topic_row_per_skill(database_url: str) -> None:
    """Migration 0008 makes `topic_roster` from `agent_skill` and the roster rows already there; 0009 gives
    the roster rows their load ratio."""
    downgrade(database_url, "0007")
    engine = create_engine(sync_url(database_url))
    try:
        with engine.begin() as conn:
            agency = conn.execute(insert(Agency).values(slug="m8", name="Відомство").returning(Agency.id)).scalar_one()
            topics = [
                conn.execute(insert(Topic).values(agency_id=agency, slug=s, name=s).returning(Topic.id)).scalar_one()
                for s in ("t1", "t2")
            ]
            agents = [
                conn.execute(
                    insert(Agent)
                    .values(agency_id=agency, email=f"{n}@m8.test", password_hash="x", name=n)
                    .returning(Agent.id)
                ).scalar_one()
                for n in ("skilled", "unskilled", "off the roster")
            ]
            conn.execute(
                insert(AgentSkill),
                [
                    {"agent_id": agents[0], "topic_id": topics[0], "level": 2},
                    {"agent_id": agents[0], "topic_id": topics[1], "level": 5},
                    {"agent_id": agents[2], "topic_id": topics[1], "level": 4},
                ],
            )
            for agent_id, load in ((agents[0], 3), (agents[1], 0)):
                conn.execute(
                    text(
                        "INSERT INTO agent_load (agent_id, agency_id, open_count, capacity, online)"
                        " VALUES (:agent, :agency, :load, 4, true)"
                    ),
                    {"agent": agent_id, "agency": agency, "load": load},
                )
        upgrade(database_url)
        with engine.connect() as conn:
            rows = conn.execute(
                select(
                    TopicRoster.agent_id,
                    TopicRoster.topic_id,
                    TopicRoster.level,
                    TopicRoster.online,
                    TopicRoster.open_count,
                    TopicRoster.load_ratio,
                ).order_by(TopicRoster.topic_id)
            ).all()
            ratios = conn.execute(select(AgentLoad.agent_id, AgentLoad.load_ratio).order_by(AgentLoad.agent_id)).all()
    finally:
        engine.dispose()
    assert [tuple(row) for row in rows] == [
        (agents[0], topics[0], 2, True, 3, 0.75),
        (agents[0], topics[1], 5, True, 3, 0.75),
    ]
    assert [tuple(row) for row in ratios] == [(agents[0], 0.75), (agents[1], 0.0)]  # migration 0009's
