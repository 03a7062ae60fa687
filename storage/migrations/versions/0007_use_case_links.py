"""use_case_links: likely duplicates across departments, and what their submitter said of them

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 02:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.types

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "use_case_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("use_case_id", sa.Integer(), nullable=False),
        sa.Column("other_id", sa.Integer(), nullable=False),
        sa.Column("relation", sa.String(length=16), nullable=False),
        sa.Column("score", sa.Double(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("answered_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("answered_at", storage.types.UTCDateTime(), nullable=True),
        sa.Column("told_hub_at", storage.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["use_case_id"], ["use_cases.id"], name=op.f("fk_use_case_links_use_case_id_use_cases"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["other_id"], ["use_cases.id"], name=op.f("fk_use_case_links_other_id_use_cases"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["answered_by_id"], ["people.id"], name=op.f("fk_use_case_links_answered_by_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_use_case_links")),
        sa.UniqueConstraint("use_case_id", "other_id", name="uq_use_case_links_pair"),
    )
    op.create_index(op.f("ix_use_case_links_use_case_id"), "use_case_links", ["use_case_id"])
    op.create_index(op.f("ix_use_case_links_other_id"), "use_case_links", ["other_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_use_case_links_other_id"), table_name="use_case_links")
    op.drop_index(op.f("ix_use_case_links_use_case_id"), table_name="use_case_links")
    op.drop_table("use_case_links")
