"""embeddings: use cases' and evidence items' texts as vectors of an embedding model (LLM assist)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 22:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.types

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "embeddings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("ref_id", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=120), nullable=False),
        sa.Column("text_hash", sa.String(length=64), nullable=False),
        sa.Column("vector", storage.types.Vector(), nullable=False),
        sa.Column("at", storage.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_embeddings")),
        sa.UniqueConstraint("kind", "ref_id", "model", name="uq_embeddings_kind_ref_model"),
    )
    op.create_index("ix_embeddings_kind_model_id", "embeddings", ["kind", "model", "id"])


def downgrade() -> None:
    op.drop_index("ix_embeddings_kind_model_id", table_name="embeddings")
    op.drop_table("embeddings")
