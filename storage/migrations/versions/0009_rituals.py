"""rituals: retros (lessons), showcases and their invitations, calendars for schedules and people,
department channels for per-department digests

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 18:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.types

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("schedules") as batch:
        batch.add_column(sa.Column("holidays", sa.String(length=32), nullable=True))
    with op.batch_alter_table("people") as batch:
        batch.add_column(sa.Column("working_hours", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("holidays", sa.String(length=32), nullable=True))
    with op.batch_alter_table("departments") as batch:
        batch.add_column(sa.Column("channel", sa.String(length=120), nullable=True))
    op.create_table(
        "retros",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("use_case_id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("asked_at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("reminded_at", storage.types.UTCDateTime(), nullable=True),
        sa.Column("done_at", storage.types.UTCDateTime(), nullable=True),
        sa.Column("done_by_id", sa.Integer(), nullable=True),
        sa.Column("waived_at", storage.types.UTCDateTime(), nullable=True),
        sa.Column("waived_by_id", sa.Integer(), nullable=True),
        sa.Column("waived_reason", sa.Text(), nullable=True),
        sa.Column("worked", sa.Text(), nullable=False),
        sa.Column("didnt", sa.Text(), nullable=False),
        sa.Column("differently", sa.Text(), nullable=False),
        sa.Column("metric_result", sa.Text(), nullable=False),
        sa.Column("metric_met", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(
            ["use_case_id"], ["use_cases.id"], name=op.f("fk_retros_use_case_id_use_cases"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["owner_id"], ["people.id"], name=op.f("fk_retros_owner_id_people")),
        sa.ForeignKeyConstraint(["done_by_id"], ["people.id"], name=op.f("fk_retros_done_by_id_people")),
        sa.ForeignKeyConstraint(["waived_by_id"], ["people.id"], name=op.f("fk_retros_waived_by_id_people")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retros")),
        sa.UniqueConstraint("use_case_id", "trigger", name=op.f("uq_retros_use_case_id")),
    )
    op.create_index(op.f("ix_retros_use_case_id"), "retros", ["use_case_id"])
    op.create_table(
        "showcases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("schedule", sa.String(length=64), nullable=False),
        sa.Column("at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("channel", sa.String(length=120), nullable=False),
        sa.Column("recorded_at", storage.types.UTCDateTime(), nullable=True),
        sa.Column("created_at", storage.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_showcases")),
        sa.UniqueConstraint("schedule", "at", name=op.f("uq_showcases_schedule")),
    )
    op.create_table(
        "showcase_invites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("showcase_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("use_case_id", sa.Integer(), nullable=True),
        sa.Column("answer", sa.String(length=16), nullable=True),
        sa.Column("nominee_id", sa.Integer(), nullable=True),
        sa.Column("invited_by_id", sa.Integer(), nullable=True),
        sa.Column("answered_at", storage.types.UTCDateTime(), nullable=True),
        sa.Column("presented", sa.Boolean(), nullable=True),
        sa.Column("created_at", storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["showcase_id"],
            ["showcases.id"],
            name=op.f("fk_showcase_invites_showcase_id_showcases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_showcase_invites_person_id_people"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["use_case_id"],
            ["use_cases.id"],
            name=op.f("fk_showcase_invites_use_case_id_use_cases"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(["nominee_id"], ["people.id"], name=op.f("fk_showcase_invites_nominee_id_people")),
        sa.ForeignKeyConstraint(
            ["invited_by_id"], ["people.id"], name=op.f("fk_showcase_invites_invited_by_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_showcase_invites")),
        sa.UniqueConstraint("showcase_id", "person_id", name=op.f("uq_showcase_invites_showcase_id")),
    )


def downgrade() -> None:
    op.drop_table("showcase_invites")
    op.drop_table("showcases")
    op.drop_index(op.f("ix_retros_use_case_id"), table_name="retros")
    op.drop_table("retros")
    with op.batch_alter_table("departments") as batch:
        batch.drop_column("channel")
    with op.batch_alter_table("people") as batch:
        batch.drop_column("holidays")
        batch.drop_column("working_hours")
    with op.batch_alter_table("schedules") as batch:
        batch.drop_column("holidays")
