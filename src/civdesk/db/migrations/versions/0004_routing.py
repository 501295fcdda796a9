"""routing: skills, load, decisions, transfers, response targets, working hours, holidays, timers

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "holiday",
        sa.Column("agency_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agency.id"], name=op.f("fk_holiday_agency_id_agency"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("agency_id", "day", name=op.f("pk_holiday")),
    )
    op.create_table(
        "transfer_partner",
        sa.Column("agency_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("from_agency_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agency.id"], name=op.f("fk_transfer_partner_agency_id_agency"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["from_agency_id"],
            ["agency.id"],
            name=op.f("fk_transfer_partner_from_agency_id_agency"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("agency_id", "from_agency_id", name=op.f("pk_transfer_partner")),
    )
    op.create_table(
        "agent_language",
        sa.Column("agent_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agent.id"], name=op.f("fk_agent_language_agent_id_agent"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("agent_id", "language", name=op.f("pk_agent_language")),
    )
    with op.batch_alter_table("agent_language", schema=None) as batch_op:
        batch_op.create_index("ix_agent_language_language", ["language", "agent_id"], unique=False)

    op.create_table(
        "agent_load",
        sa.Column("agent_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("agency_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("open_count", sa.Integer(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("online", sa.Boolean(), nullable=False),
        sa.Column("last_assigned_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agency.id"], name=op.f("fk_agent_load_agency_id_agency"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agent.id"], name=op.f("fk_agent_load_agent_id_agent"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("agent_id", name=op.f("pk_agent_load")),
    )
    with op.batch_alter_table("agent_load", schema=None) as batch_op:
        batch_op.create_index("ix_agent_load_agency", ["agency_id", "online", "open_count"], unique=False)

    op.create_table(
        "agent_skill",
        sa.Column("agent_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("topic_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agent.id"], name=op.f("fk_agent_skill_agent_id_agent"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["topic_id"], ["topic.id"], name=op.f("fk_agent_skill_topic_id_topic"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("agent_id", "topic_id", name=op.f("pk_agent_skill")),
    )
    with op.batch_alter_table("agent_skill", schema=None) as batch_op:
        batch_op.create_index("ix_agent_skill_topic", ["topic_id", "agent_id"], unique=False)

    op.create_table(
        "routing_decision",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("agency_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("conversation_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("topic_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("strategy", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("chosen_agent_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("eligible_count", sa.Integer(), nullable=False),
        sa.Column("candidates", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agency.id"], name=op.f("fk_routing_decision_agency_id_agency"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["chosen_agent_id"],
            ["agent.id"],
            name=op.f("fk_routing_decision_chosen_agent_id_agent"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversation.id"],
            name=op.f("fk_routing_decision_conversation_id_conversation"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["topic_id"], ["topic.id"], name=op.f("fk_routing_decision_topic_id_topic"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_decision")),
    )
    with op.batch_alter_table("routing_decision", schema=None) as batch_op:
        batch_op.create_index("ix_routing_decision_conversation", ["conversation_id", "id"], unique=False)

    op.create_table(
        "sla_breach",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("agency_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("conversation_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("topic_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("agent_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("target", sa.String(length=16), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("breached_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agency.id"], name=op.f("fk_sla_breach_agency_id_agency"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agent.id"], name=op.f("fk_sla_breach_agent_id_agent"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversation.id"],
            name=op.f("fk_sla_breach_conversation_id_conversation"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["topic_id"], ["topic.id"], name=op.f("fk_sla_breach_topic_id_topic"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_breach")),
    )
    with op.batch_alter_table("sla_breach", schema=None) as batch_op:
        batch_op.create_index("ix_sla_breach_agency_time", ["agency_id", "breached_at"], unique=False)

    op.create_table(
        "timer",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("agency_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("conversation_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("agent_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=128), nullable=True),
        sa.Column("fired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agency.id"], name=op.f("fk_timer_agency_id_agency"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["agent_id"], ["agent.id"], name=op.f("fk_timer_agent_id_agent"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversation.id"],
            name=op.f("fk_timer_conversation_id_conversation"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_timer")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_timer_dedupe_key")),
    )
    with op.batch_alter_table("timer", schema=None) as batch_op:
        batch_op.create_index("ix_timer_conversation", ["conversation_id", "status"], unique=False)
        batch_op.create_index("ix_timer_status_due", ["status", "due_at"], unique=False)

    op.create_table(
        "transfer",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("conversation_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("from_agency_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("to_agency_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("from_topic_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("to_topic_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("from_agent_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("to_agent_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("by_agent_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["by_agent_id"], ["agent.id"], name=op.f("fk_transfer_by_agent_id_agent"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversation.id"],
            name=op.f("fk_transfer_conversation_id_conversation"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["from_agency_id"], ["agency.id"], name=op.f("fk_transfer_from_agency_id_agency"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["from_agent_id"], ["agent.id"], name=op.f("fk_transfer_from_agent_id_agent"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["from_topic_id"], ["topic.id"], name=op.f("fk_transfer_from_topic_id_topic"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["to_agency_id"], ["agency.id"], name=op.f("fk_transfer_to_agency_id_agency"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["to_agent_id"], ["agent.id"], name=op.f("fk_transfer_to_agent_id_agent"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["to_topic_id"], ["topic.id"], name=op.f("fk_transfer_to_topic_id_topic"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transfer")),
    )
    with op.batch_alter_table("transfer", schema=None) as batch_op:
        batch_op.create_index("ix_transfer_conversation", ["conversation_id"], unique=False)
        batch_op.create_index("ix_transfer_from_agency_time", ["from_agency_id", "created_at"], unique=False)

    with op.batch_alter_table("agency", schema=None) as batch_op:
        batch_op.add_column(sa.Column("languages", sa.JSON(), nullable=False, server_default=sa.text("'[\"uk\"]'")))
        batch_op.add_column(sa.Column("working_hours", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("triage_enabled", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("queue_notices", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(
            sa.Column("default_strategy", sa.String(length=16), nullable=False, server_default="manual")
        )
        batch_op.add_column(sa.Column("reassign_after_seconds", sa.Integer(), nullable=False, server_default="300"))
        batch_op.add_column(sa.Column("first_response_seconds", sa.Integer(), nullable=True, server_default="600"))
        batch_op.add_column(sa.Column("next_response_seconds", sa.Integer(), nullable=True, server_default="900"))
        batch_op.add_column(sa.Column("resolution_seconds", sa.Integer(), nullable=True, server_default="172800"))

    with op.batch_alter_table("conversation", schema=None) as batch_op:
        batch_op.add_column(sa.Column("language", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("priority", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("triage_pending", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("queued_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("awaiting_since", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("transfer_count", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(
            sa.Column("repeat_of_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True)
        )
        batch_op.add_column(
            sa.Column("complaint_about_agency_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True)
        )
        batch_op.create_index("ix_conversation_contact_topic", ["contact_id", "topic_id", "resolved_at"], unique=False)
        batch_op.create_index("ix_conversation_queue", ["agency_id", "queued_at"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_conversation_complaint_about_agency_id_agency"),
            "agency",
            ["complaint_about_agency_id"],
            ["id"],
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_conversation_repeat_of_id_conversation"), "conversation", ["repeat_of_id"], ["id"]
        )

    with op.batch_alter_table("topic", schema=None) as batch_op:
        batch_op.add_column(sa.Column("names", sa.JSON(), nullable=False, server_default=sa.text("'{}'")))
        batch_op.add_column(sa.Column("keywords", sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
        batch_op.add_column(sa.Column("strategy", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("priority", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("reassign_after_seconds", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("first_response_seconds", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("next_response_seconds", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("resolution_seconds", sa.Integer(), nullable=True))

    # Every agent is on the roster from the start, with the conversations they already hold.
    op.execute(
        "INSERT INTO agent_load (agent_id, agency_id, open_count, capacity, online) "
        "SELECT agent.id, agent.agency_id, "
        "(SELECT COUNT(*) FROM conversation WHERE conversation.assignee_id = agent.id "
        "AND conversation.status <> 'resolved'), agent.capacity, "
        "COALESCE((SELECT agent_presence.status = 'online' FROM agent_presence "
        "WHERE agent_presence.agent_id = agent.id), false) FROM agent"
    )


def downgrade() -> None:
    with op.batch_alter_table("topic", schema=None) as batch_op:
        batch_op.drop_column("resolution_seconds")
        batch_op.drop_column("next_response_seconds")
        batch_op.drop_column("first_response_seconds")
        batch_op.drop_column("reassign_after_seconds")
        batch_op.drop_column("priority")
        batch_op.drop_column("strategy")
        batch_op.drop_column("keywords")
        batch_op.drop_column("names")

    with op.batch_alter_table("conversation", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_conversation_repeat_of_id_conversation"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("fk_conversation_complaint_about_agency_id_agency"), type_="foreignkey")
        batch_op.drop_index("ix_conversation_queue")
        batch_op.drop_index("ix_conversation_contact_topic")
        batch_op.drop_column("complaint_about_agency_id")
        batch_op.drop_column("repeat_of_id")
        batch_op.drop_column("transfer_count")
        batch_op.drop_column("awaiting_since")
        batch_op.drop_column("assigned_at")
        batch_op.drop_column("queued_at")
        batch_op.drop_column("triage_pending")
        batch_op.drop_column("priority")
        batch_op.drop_column("language")

    with op.batch_alter_table("agency", schema=None) as batch_op:
        batch_op.drop_column("resolution_seconds")
        batch_op.drop_column("next_response_seconds")
        batch_op.drop_column("first_response_seconds")
        batch_op.drop_column("reassign_after_seconds")
        batch_op.drop_column("default_strategy")
        batch_op.drop_column("triage_enabled")
        batch_op.drop_column("queue_notices")
        batch_op.drop_column("working_hours")
        batch_op.drop_column("languages")

    with op.batch_alter_table("transfer", schema=None) as batch_op:
        batch_op.drop_index("ix_transfer_from_agency_time")
        batch_op.drop_index("ix_transfer_conversation")

    op.drop_table("transfer")
    with op.batch_alter_table("timer", schema=None) as batch_op:
        batch_op.drop_index("ix_timer_status_due")
        batch_op.drop_index("ix_timer_conversation")

    op.drop_table("timer")
    with op.batch_alter_table("sla_breach", schema=None) as batch_op:
        batch_op.drop_index("ix_sla_breach_agency_time")

    op.drop_table("sla_breach")
    with op.batch_alter_table("routing_decision", schema=None) as batch_op:
        batch_op.drop_index("ix_routing_decision_conversation")

    op.drop_table("routing_decision")
    with op.batch_alter_table("agent_skill", schema=None) as batch_op:
        batch_op.drop_index("ix_agent_skill_topic")

    op.drop_table("agent_skill")
    with op.batch_alter_table("agent_load", schema=None) as batch_op:
        batch_op.drop_index("ix_agent_load_agency")

    op.drop_table("agent_load")
    with op.batch_alter_table("agent_language", schema=None) as batch_op:
        batch_op.drop_index("ix_agent_language_language")

    op.drop_table("agent_language")
    op.drop_table("transfer_partner")
    op.drop_table("holiday")
