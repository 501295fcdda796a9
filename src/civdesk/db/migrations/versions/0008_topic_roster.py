"""topic roster: one row per agent and topic with a copy of the agent's roster row, indexed in the order
a topic's ranking reads it; it replaces the roster's JSON copy of the skills and its GIN index

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LOAD_RATIO = "CAST(open_count AS DOUBLE PRECISION) / NULLIF(capacity, 0)"  # routing.models.LOAD_RATIO

# Afterwards routing writes both in the same statements.
_FILL = """
    INSERT INTO topic_roster (agent_id, topic_id, agency_id, level, online, open_count, capacity, last_assigned_at)
    SELECT agent_skill.agent_id, agent_skill.topic_id, agent_load.agency_id, agent_skill.level, agent_load.online,
        agent_load.open_count, agent_load.capacity, agent_load.last_assigned_at
    FROM agent_skill JOIN agent_load ON agent_load.agent_id = agent_skill.agent_id
"""

# As migration 0007 filled it.
_FILL_SKILLS = {
    "postgresql": """
        UPDATE agent_load SET skills = mine.skills
        FROM (SELECT agent_id, jsonb_object_agg(topic_id::text, level) AS skills FROM agent_skill GROUP BY agent_id)
            AS mine
        WHERE mine.agent_id = agent_load.agent_id
    """,
    "sqlite": """
        UPDATE agent_load SET skills = (
            SELECT json_group_object(CAST(topic_id AS TEXT), level) FROM agent_skill
            WHERE agent_skill.agent_id = agent_load.agent_id
        )
        WHERE agent_id IN (SELECT agent_id FROM agent_skill)
    """,
}


def upgrade() -> None:
    op.create_table(
        "topic_roster",
        sa.Column("agent_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("topic_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("agency_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("online", sa.Boolean(), nullable=False),
        sa.Column("open_count", sa.Integer(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("last_assigned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("load_ratio", sa.Double(), sa.Computed(_LOAD_RATIO, persisted=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agency.id"], name=op.f("fk_topic_roster_agency_id_agency"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agent.id"], name=op.f("fk_topic_roster_agent_id_agent"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["topic_id"], ["topic.id"], name=op.f("fk_topic_roster_topic_id_topic"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("agent_id", "topic_id", name=op.f("pk_topic_roster")),
    )
    op.create_index("ix_topic_roster_best", "topic_roster", ["topic_id", "agency_id", "online", "load_ratio"])
    op.execute(_FILL)
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_agent_load_skills", table_name="agent_load", postgresql_using="gin")
    with op.batch_alter_table("agent_load", schema=None) as batch_op:
        batch_op.drop_column("skills")


def downgrade() -> None:
    skills = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
    with op.batch_alter_table("agent_load", schema=None) as batch_op:
        batch_op.add_column(sa.Column("skills", skills, server_default="{}", nullable=False))
    dialect = op.get_bind().dialect.name
    op.execute(_FILL_SKILLS[dialect])
    if dialect == "postgresql":
        op.create_index("ix_agent_load_skills", "agent_load", ["skills"], postgresql_using="gin")
    op.drop_index("ix_topic_roster_best", table_name="topic_roster")
    op.drop_table("topic_roster")
