"""roster load ratio: the general queue's ranking reads the roster in the order of the least loaded, as a
topic's reads its topic rows: a stored `load_ratio` on `agent_load` and an index that ends with it (it
replaces `ix_agent_load_agency`, its first two columns)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LOAD_RATIO = "CAST(open_count AS DOUBLE PRECISION) / NULLIF(capacity, 0)"  # routing.models.LOAD_RATIO


def upgrade() -> None:
    # SQLite cannot add a stored column to a table: batch mode copies the table into a new one. (A later
    # batch migration that copies `agent_load` or `topic_roster` on SQLite must drop `load_ratio` first
    # and add it again: Alembic's copy would INSERT into the generated column.)
    with op.batch_alter_table("agent_load", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("load_ratio", sa.Double(), sa.Computed(_LOAD_RATIO, persisted=True), nullable=True)
        )
        batch_op.drop_index("ix_agent_load_agency")
        batch_op.create_index("ix_agent_load_best", ["agency_id", "online", "load_ratio"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("agent_load", schema=None) as batch_op:
        batch_op.drop_index("ix_agent_load_best")
        batch_op.create_index("ix_agent_load_agency", ["agency_id", "online"], unique=False)
        batch_op.drop_column("load_ratio")
