"""The Alembic history and the models describe the same schema, on SQLite and on PostgreSQL, and
the newest migrations go down and up again cleanly."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, insert, select, text

import civdesk.models as models
from civdesk.agency.models import Agency, Topic
from civdesk.agent.models import Agent
from civdesk.db.base import include_object
from civdesk.db.migrate import downgrade, upgrade
from civdesk.db.session import sync_url
from civdesk.routing.models import AgentLoad, AgentSkill


def _differences(database_url: str) -> list[object]:
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"include_object": include_object(connection.dialect.name)}
            )
            return list(compare_metadata(context, models.Base.metadata))
    finally:
        engine.dispose()


def test_models_match_the_migrations_and_the_newest_ones_reverse(database_url: str) -> None:
    assert _differences(database_url) == []
    downgrade(database_url, "0003")
    upgrade(database_url)
    assert _differences(database_url) == []


def test_the_roster_gets_each_agents_skills_when_it_gains_its_copy(database_url: str) -> None:
    """Migration 0007 fills `agent_load.skills` from `agent_skill` for the agents already on the roster."""
    downgrade(database_url, "0006")
    engine = create_engine(sync_url(database_url))
    try:
        with engine.begin() as conn:
            agency = conn.execute(insert(Agency).values(slug="m7", name="Відомство").returning(Agency.id)).scalar_one()
            topics = [
                conn.execute(insert(Topic).values(agency_id=agency, slug=s, name=s).returning(Topic.id)).scalar_one()
                for s in ("t1", "t2")
            ]
            agents = [
                conn.execute(
                    insert(Agent)
                    .values(agency_id=agency, email=f"{n}@m7.test", password_hash="x", name=n)
                    .returning(Agent.id)
                ).scalar_one()
                for n in ("skilled", "unskilled")
            ]
            conn.execute(
                insert(AgentSkill),
                [
                    {"agent_id": agents[0], "topic_id": topics[0], "level": 2},
                    {"agent_id": agents[0], "topic_id": topics[1], "level": 5},
                ],
            )
            for agent_id in agents:
                conn.execute(
                    text(
                        "INSERT INTO agent_load (agent_id, agency_id, open_count, capacity, online)"
                        " VALUES (:agent, :agency, 0, 5, true)"
                    ),
                    {"agent": agent_id, "agency": agency},
                )
        upgrade(database_url)
        with engine.connect() as conn:
            skills = dict(conn.execute(select(AgentLoad.agent_id, AgentLoad.skills)).all())
    finally:
        engine.dispose()
    assert skills == {agents[0]: {str(topics[0]): 2, str(topics[1]): 5}, agents[1]: {}}
