"""people are platform-neutral: identities per platform, and an e-mail that links them

- identities: (platform, external_id) unique, one row per way a person is known (a Slack user id,
  a Teams user id, a console name), carried over from people.slack_user_id, teams_user_id and
  console_user_id, which are dropped;
- people.email: case-folded and unique, so the same person on two platforms is one person.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 18:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.types

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

PLATFORM_COLUMNS = (("slack", "slack_user_id"), ("teams", "teams_user_id"), ("console", "console_user_id"))


def upgrade() -> None:
    op.create_table(
        "identities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", storage.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_identities_person_id_people"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identities")),
        sa.UniqueConstraint("platform", "external_id", name=op.f("uq_identities_platform")),
    )
    op.create_index(op.f("ix_identities_person_id"), "identities", ["person_id"], unique=False)
    for platform, column in PLATFORM_COLUMNS:
        op.execute(
            "INSERT INTO identities (person_id, platform, external_id, created_at) "
            f"SELECT id, '{platform}', {column}, created_at FROM people WHERE {column} IS NOT NULL"
        )
    with op.batch_alter_table("people") as batch_op:
        batch_op.add_column(sa.Column("email", sa.String(length=254), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_people_email"), ["email"])
        batch_op.drop_index(batch_op.f("ix_people_console_user_id"))
        batch_op.drop_constraint(batch_op.f("uq_people_slack_user_id"), type_="unique")
        batch_op.drop_constraint(batch_op.f("uq_people_teams_user_id"), type_="unique")
        batch_op.drop_column("console_user_id")
        batch_op.drop_column("teams_user_id")
        batch_op.drop_column("slack_user_id")


def downgrade() -> None:
    with op.batch_alter_table("people") as batch_op:
        batch_op.add_column(sa.Column("slack_user_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("teams_user_id", sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column("console_user_id", sa.String(length=64), nullable=True))
    for platform, column in PLATFORM_COLUMNS:  # a person keeps their first identity on each platform
        op.execute(
            f"UPDATE people SET {column} = (SELECT i.external_id FROM identities i WHERE i.person_id = people.id "
            f"AND i.platform = '{platform}' ORDER BY i.id LIMIT 1)"
        )
    with op.batch_alter_table("people") as batch_op:
        batch_op.create_unique_constraint(batch_op.f("uq_people_slack_user_id"), ["slack_user_id"])
        batch_op.create_unique_constraint(batch_op.f("uq_people_teams_user_id"), ["teams_user_id"])
        batch_op.create_index(batch_op.f("ix_people_console_user_id"), ["console_user_id"], unique=True)
        batch_op.drop_constraint(batch_op.f("uq_people_email"), type_="unique")
        batch_op.drop_column("email")
    op.drop_index(op.f("ix_identities_person_id"), table_name="identities")
    op.drop_table("identities")
