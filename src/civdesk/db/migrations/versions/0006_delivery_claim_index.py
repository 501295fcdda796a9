"""delivery claim index: due jobs per channel, for a worker that claims each channel at its own pace

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Serves the per-channel claim in its order (due_at, id), so a claim stops after the rows it takes
    # instead of sorting the channel's backlog, and the "which channels have due jobs" probe (one range
    # per channel). ix_delivery_job_due (status, due_at) serves the claim across channels.
    op.create_index("ix_delivery_job_channel_due", "delivery_job", ["channel_id", "status", "due_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_delivery_job_channel_due", table_name="delivery_job")
