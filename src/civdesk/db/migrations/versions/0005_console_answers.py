"""console answers: canned answers, resolution codes, linked contacts, citizens' ratings

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "canned_answer",
        sa.Column("id", _ID, nullable=False),
        sa.Column("agency_id", _ID, nullable=False),
        sa.Column("topic_id", _ID, nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("legal_reference", sa.String(length=500), nullable=True),
        sa.Column("official_url", sa.String(length=500), nullable=True),
        sa.Column("created_by_agent_id", _ID, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agency.id"], name=op.f("fk_canned_answer_agency_id_agency"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["topic_id"], ["topic.id"], name=op.f("fk_canned_answer_topic_id_topic"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["created_by_agent_id"],
            ["agent.id"],
            name=op.f("fk_canned_answer_created_by_agent_id_agent"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_canned_answer")),
    )
    op.create_index("ix_canned_answer_agency_topic", "canned_answer", ["agency_id", "topic_id"])
    op.create_table(
        "resolution_code",
        sa.Column("id", _ID, nullable=False),
        sa.Column("agency_id", _ID, nullable=False),
        sa.Column("title", sa.String(length=120), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agency.id"], name=op.f("fk_resolution_code_agency_id_agency"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resolution_code")),
        sa.UniqueConstraint("agency_id", "title", name="uq_resolution_code_agency_title"),
    )
    op.create_index(op.f("ix_resolution_code_agency_id"), "resolution_code", ["agency_id"])
    with op.batch_alter_table("conversation") as batch:
        batch.add_column(sa.Column("resolution_code_id", _ID, nullable=True))
        batch.create_foreign_key(
            op.f("fk_conversation_resolution_code_id_resolution_code"),
            "resolution_code",
            ["resolution_code_id"],
            ["id"],
        )
    with op.batch_alter_table("contact") as batch:
        batch.add_column(sa.Column("phone", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("person_id", _ID, nullable=True))
        batch.create_foreign_key(op.f("fk_contact_person_id_contact"), "contact", ["person_id"], ["id"])
        batch.create_index(op.f("ix_contact_person_id"), ["person_id"])
        batch.create_index("ix_contact_agency_phone", ["agency_id", "phone"])
    op.create_table(
        "rating",
        sa.Column("id", _ID, nullable=False),
        sa.Column("conversation_id", _ID, nullable=False),
        sa.Column("agency_id", _ID, nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agency.id"], name=op.f("fk_rating_agency_id_agency"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversation.id"],
            name=op.f("fk_rating_conversation_id_conversation"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rating")),
        sa.UniqueConstraint("conversation_id", name=op.f("uq_rating_conversation_id")),
    )
    op.create_index("ix_rating_agency_created", "rating", ["agency_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_rating_agency_created", table_name="rating")
    op.drop_table("rating")
    with op.batch_alter_table("contact") as batch:
        batch.drop_index("ix_contact_agency_phone")
        batch.drop_index(op.f("ix_contact_person_id"))
        batch.drop_constraint(op.f("fk_contact_person_id_contact"), type_="foreignkey")
        batch.drop_column("person_id")
        batch.drop_column("phone")
    with op.batch_alter_table("conversation") as batch:
        batch.drop_constraint(op.f("fk_conversation_resolution_code_id_resolution_code"), type_="foreignkey")
        batch.drop_column("resolution_code_id")
    op.drop_index(op.f("ix_resolution_code_agency_id"), table_name="resolution_code")
    op.drop_table("resolution_code")
    op.drop_index("ix_canned_answer_agency_topic", table_name="canned_answer")
    op.drop_table("canned_answer")
