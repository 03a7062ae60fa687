"""schedules: rituals on a schedule (the portfolio digest first), managed by leads in chat

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 02:50:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.types

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "schedules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("job", sa.String(length=64), nullable=False),
        sa.Column("rule", sa.String(length=200), nullable=False),
        sa.Column("tz", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=120), nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("last_period", sa.String(length=64), nullable=True),
        sa.Column("last_run_at", storage.types.UTCDateTime(), nullable=True),
        sa.Column("last_outcome", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["created_by_id"], ["people.id"], name=op.f("fk_schedules_created_by_id_people")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedules")),
        sa.UniqueConstraint("name", name=op.f("uq_schedules_name")),
    )


def downgrade() -> None:
    op.drop_table("schedules")
