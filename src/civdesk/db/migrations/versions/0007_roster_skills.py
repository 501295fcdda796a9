"""roster skills: each agent's topics and levels on the roster row, GIN-indexed on PostgreSQL; the
roster's agency index without the load, so a claim is a HOT update

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Filled from agent_skill: {"<topic id>": level}. Afterwards routing keeps both in the same transactions.
_FILL = {
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
    skills = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
    with op.batch_alter_table("agent_load", schema=None) as batch_op:
        batch_op.add_column(sa.Column("skills", skills, server_default="{}", nullable=False))
        batch_op.drop_index("ix_agent_load_agency")
        batch_op.create_index("ix_agent_load_agency", ["agency_id", "online"], unique=False)
    dialect = op.get_bind().dialect.name
    op.execute(_FILL[dialect])
    if dialect == "postgresql":
        op.create_index("ix_agent_load_skills", "agent_load", ["skills"], postgresql_using="gin")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_agent_load_skills", table_name="agent_load", postgresql_using="gin")
    with op.batch_alter_table("agent_load", schema=None) as batch_op:
        batch_op.drop_index("ix_agent_load_agency")
        batch_op.create_index("ix_agent_load_agency", ["agency_id", "online", "open_count"], unique=False)
        batch_op.drop_column("skills")
