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


def test_people_keep_their_platform_ids_as_identities_and_back(database_url: str) -> None:
    upgrade(database_url, "0004")
    engine = make_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO people (name, slack_user_id, console_user_id, is_reviewer, is_lead, away, created_at) VALUES "
            "('Rita', 'UREV', NULL, true, false, false, '2026-01-01'), "
            "('Sam', NULL, 'sam', false, false, false, '2026-01-01'), "
            "('Both', 'UBOTH', 'both', false, true, false, '2026-01-01'), "
            "('register import', NULL, NULL, false, false, false, '2026-01-01')"))
    upgrade(database_url, "0005")
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT p.name, i.platform, i.external_id FROM identities i JOIN people p ON p.id = i.person_id "
            "ORDER BY p.id, i.platform")).all()
    assert [tuple(r) for r in rows] == [
        ("Rita", "slack", "UREV"), ("Sam", "console", "sam"), ("Both", "console", "both"), ("Both", "slack", "UBOTH")]
    command.downgrade(alembic_config(database_url), "0004")
    with engine.connect() as conn:
        back = conn.execute(text("SELECT name, slack_user_id, console_user_id FROM people ORDER BY id")).all()
    assert [tuple(r) for r in back] == [
        ("Rita", "UREV", None), ("Sam", None, "sam"), ("Both", "UBOTH", "both"), ("register import", None, None)]
    engine.dispose()
