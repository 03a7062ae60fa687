"""Quiet by default: a one-off command prints its answer and nothing else; --verbose brings the detail back."""

from __future__ import annotations

from pathlib import Path

from tests.test_cli import hubspoke


def test_a_one_off_command_prints_only_its_answer(tmp_path: Path) -> None:
    db = {"DATABASE_URL": f"sqlite:///{tmp_path / 'hub.db'}"}
    first = hubspoke(tmp_path, "hub", "department", "add", "Finance", **db)  # migrates the new file first
    assert (first.returncode, first.stdout, first.stderr) == (0, "added department Finance\n", "")
    listed = hubspoke(tmp_path, "hub", "department", "list", **db)
    assert (listed.stdout, listed.stderr) == ("Finance\n", "")


def test_verbose_and_log_level_bring_the_detail_back(tmp_path: Path) -> None:
    db = {"DATABASE_URL": f"sqlite:///{tmp_path / 'hub.db'}"}
    verbose = hubspoke(tmp_path, "-v", "hub", "department", "list", **db)
    assert "alembic" in verbose.stderr
    by_env = hubspoke(tmp_path, "hub", "department", "list", LOG_LEVEL="info", **db)
    assert "alembic" in by_env.stderr
