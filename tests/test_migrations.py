"""Every migration applies and reverts on SQLite and PostgreSQL, and the models match the schema."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from storage.db import alembic_config, make_engine, upgrade
from storage.models import Base
from storage.search import include_object


def test_upgrade_downgrade_upgrade_keeps_data(database_url: str) -> None:
    upgrade(database_url, "0001")
    engine = make_engine(database_url)
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO departments (name, key, created_at) VALUES ('Finance', 'finance', '2026-01-01')")
        )
        conn.execute(text("INSERT INTO people (name, is_reviewer, is_lead, away, created_at) "
                          "VALUES ('Sam', false, false, false, '2026-01-01')"))
        conn.execute(text(
            "INSERT INTO use_cases (title, problem, department_id, benefit, success_metric, data_sources, "
            "data_availability, data_sensitivity, people_affected, autonomy, links, risk_tier, route, triage_reasons, "
            "status, stage, submitter_id, created_at, updated_at) VALUES ('T', 'P', 1, '', 'm', '', 'available', "
            "'none', 'internal', 'assistive', '[]', 'low', 'self_serve', '[]', 'self_serve', 'ideation', 1, "
            "'2026-01-01', '2026-01-01')"))
    upgrade(database_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT title, extra FROM use_cases")).one()[0] == "T"
    command.downgrade(alembic_config(database_url), "base")
    upgrade(database_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM use_cases")).scalar() == 0
        # The search index (FTS5 tables, the tsvector column and its index) lives outside the models.
        context = MigrationContext.configure(conn, opts={"include_object": include_object})
        diff = compare_metadata(context, Base.metadata)
    assert diff == [], f"models and migrations disagree: {diff}"
    engine.dispose()
