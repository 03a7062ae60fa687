"""full-text search over expertise evidence

SQLite: an FTS5 table over evidence (external content, porter stemming) kept in step by triggers.
PostgreSQL: a generated tsvector column (tags weighted A, text D) with a GIN index.
The objects are named in storage.search.SEARCH_OBJECTS, which autogenerate and the model check skip.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 09:00:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

SQLITE_UP = [
    "CREATE VIRTUAL TABLE evidence_fts USING fts5("
    "text, tags, content='evidence', content_rowid='id', tokenize='porter unicode61')",
    "CREATE TRIGGER evidence_fts_ai AFTER INSERT ON evidence BEGIN "
    "INSERT INTO evidence_fts(rowid, text, tags) VALUES (new.id, new.text, new.tags); END",
    "CREATE TRIGGER evidence_fts_ad AFTER DELETE ON evidence BEGIN "
    "INSERT INTO evidence_fts(evidence_fts, rowid, text, tags) VALUES ('delete', old.id, old.text, old.tags); END",
    "CREATE TRIGGER evidence_fts_au AFTER UPDATE OF text, tags ON evidence BEGIN "
    "INSERT INTO evidence_fts(evidence_fts, rowid, text, tags) VALUES ('delete', old.id, old.text, old.tags); "
    "INSERT INTO evidence_fts(rowid, text, tags) VALUES (new.id, new.text, new.tags); END",
    "INSERT INTO evidence_fts(evidence_fts) VALUES ('rebuild')",
]
SQLITE_DOWN = [
    "DROP TRIGGER evidence_fts_au",
    "DROP TRIGGER evidence_fts_ad",
    "DROP TRIGGER evidence_fts_ai",
    "DROP TABLE evidence_fts",
]
POSTGRES_UP = [
    "ALTER TABLE evidence ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ("
    "setweight(to_tsvector('english', coalesce(tags::text, '')), 'A') || "
    "setweight(to_tsvector('english', coalesce(text, '')), 'D')) STORED",
    "CREATE INDEX ix_evidence_search_vector ON evidence USING gin (search_vector)",
]
POSTGRES_DOWN = [
    "DROP INDEX ix_evidence_search_vector",
    "ALTER TABLE evidence DROP COLUMN search_vector",
]


def _run(statements: list[str]) -> None:
    for statement in statements:
        op.execute(statement)


def upgrade() -> None:
    # Activity (recent evidence per person) is summed per candidate on every query.
    op.create_index("ix_evidence_person_at", "evidence", ["person_id", "at"])
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        _run(SQLITE_UP)
    elif dialect == "postgresql":
        _run(POSTGRES_UP)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        _run(SQLITE_DOWN)
    elif dialect == "postgresql":
        _run(POSTGRES_DOWN)
    op.drop_index("ix_evidence_person_at", table_name="evidence")
