"""files, buttons and receipts: fetch jobs, message buttons, early receipts

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("delivery_job") as batch:
        batch.add_column(sa.Column("kind", sa.String(length=16), nullable=False, server_default="send"))
    with op.batch_alter_table("message") as batch:
        batch.add_column(sa.Column("buttons", sa.JSON(), nullable=False, server_default="[]"))
        batch.add_column(sa.Column("template", sa.String(length=128), nullable=True))
    op.create_table(
        "early_receipt",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("channel_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("platform_key", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["channel_id"], ["channel.id"], name=op.f("fk_early_receipt_channel_id_channel"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_early_receipt")),
    )
    op.create_index("ix_early_receipt_channel_key", "early_receipt", ["channel_id", "platform_key"])


def downgrade() -> None:
    op.drop_index("ix_early_receipt_channel_key", table_name="early_receipt")
    op.drop_table("early_receipt")
    with op.batch_alter_table("message") as batch:
        batch.drop_column("template")
        batch.drop_column("buttons")
    with op.batch_alter_table("delivery_job") as batch:
        batch.drop_column("kind")
