"""full-text search over use cases, for finding duplicates across departments

SQLite: an FTS5 table over use_cases (external content, porter stemming) with the title, problem,
benefit, data sources and topic area as its columns (storage.usecase_search weighs the title highest
in bm25()), kept in step by triggers; existing rows are indexed by a rebuild.
PostgreSQL: a generated tsvector column (title A, problem B, benefit and topic area C, data sources D)
with a GIN index.
The objects are named in storage.search.SEARCH_OBJECTS / include_object, which the model check skips.

A later migration that rebuilds use_cases on SQLite (batch_alter_table's move and copy) drops these
triggers with the old table: it must create them again (the statements below), then rebuild the index.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 09:00:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_COLUMNS = "title, problem, benefit, data_sources, topic_area"
_NEW = "new.id, new.title, new.problem, new.benefit, new.data_sources, new.topic_area"
_OLD = "old.id, old.title, old.problem, old.benefit, old.data_sources, old.topic_area"
SQLITE_UP = [
    f"CREATE VIRTUAL TABLE use_cases_fts USING fts5({_COLUMNS}, "
    "content='use_cases', content_rowid='id', tokenize='porter unicode61')",
    "CREATE TRIGGER use_cases_fts_ai AFTER INSERT ON use_cases BEGIN "
    f"INSERT INTO use_cases_fts(rowid, {_COLUMNS}) VALUES ({_NEW}); END",
    "CREATE TRIGGER use_cases_fts_ad AFTER DELETE ON use_cases BEGIN "
    f"INSERT INTO use_cases_fts(use_cases_fts, rowid, {_COLUMNS}) VALUES ('delete', {_OLD}); END",
    f"CREATE TRIGGER use_cases_fts_au AFTER UPDATE OF {_COLUMNS} ON use_cases BEGIN "
    f"INSERT INTO use_cases_fts(use_cases_fts, rowid, {_COLUMNS}) VALUES ('delete', {_OLD}); "
    f"INSERT INTO use_cases_fts(rowid, {_COLUMNS}) VALUES ({_NEW}); END",
    "INSERT INTO use_cases_fts(use_cases_fts) VALUES ('rebuild')",
]
SQLITE_DOWN = [
    "DROP TRIGGER use_cases_fts_au",
    "DROP TRIGGER use_cases_fts_ad",
    "DROP TRIGGER use_cases_fts_ai",
    "DROP TABLE use_cases_fts",
]
# The generated column is the index's text: storage.usecase_search queries `search_vector` by name.
POSTGRES_UP = [
    "ALTER TABLE use_cases ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ("
    "setweight(to_tsvector('english', coalesce(title, '')), 'A') || "
    "setweight(to_tsvector('english', coalesce(problem, '')), 'B') || "
    "setweight(to_tsvector('english', coalesce(benefit, '') || ' ' || coalesce(topic_area, '')), 'C') || "
    "setweight(to_tsvector('english', coalesce(data_sources, '')), 'D')) STORED",
    "CREATE INDEX ix_use_cases_search_vector ON use_cases USING gin (search_vector)",
]
POSTGRES_DOWN = [
    "DROP INDEX ix_use_cases_search_vector",
    "ALTER TABLE use_cases DROP COLUMN search_vector",
]


def _run(statements: list[str]) -> None:
    for statement in statements:
        op.execute(statement)


def upgrade() -> None:
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
