"""presence: agents' current presence with a console lease, and every change as a row

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "agent_presence",
        sa.Column("agent_id", _ID, nullable=False),
        sa.Column("agency_id", _ID, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agency.id"], name=op.f("fk_agent_presence_agency_id_agency"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agent.id"], name=op.f("fk_agent_presence_agent_id_agent"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("agent_id", name=op.f("pk_agent_presence")),
    )
    op.create_index(op.f("ix_agent_presence_agency_id"), "agent_presence", ["agency_id"])
    op.create_table(
        "presence_change",
        sa.Column("id", _ID, nullable=False),
        sa.Column("agency_id", _ID, nullable=False),
        sa.Column("agent_id", _ID, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("previous", sa.String(length=16), nullable=False),
        sa.Column("cause", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agency.id"], name=op.f("fk_presence_change_agency_id_agency"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agent.id"], name=op.f("fk_presence_change_agent_id_agent"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_presence_change")),
    )
    op.create_index("ix_presence_change_agent", "presence_change", ["agent_id", "id"])
    op.create_index("ix_presence_change_agency_time", "presence_change", ["agency_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_presence_change_agency_time", table_name="presence_change")
    op.drop_index("ix_presence_change_agent", table_name="presence_change")
    op.drop_table("presence_change")
    op.drop_index(op.f("ix_agent_presence_agency_id"), table_name="agent_presence")
    op.drop_table("agent_presence")
