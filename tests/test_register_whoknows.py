"""From a spreadsheet to "who knows X" (issue 9, item 9): import the 2025 federal inventory with the OMB preset, then
ask the expertise index, as a new hub lead would, with the installed `hubspoke` command."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import SHARED_DATA
from tests.test_cli import hubspoke

OMB_FILE = SHARED_DATA / "us-federal-ai-inventory-2025" / "2025_individually_reported_AI_use_cases.csv"


@pytest.mark.skipif(not OMB_FILE.is_file(), reason="need ../shared/data beside this clone")
def test_whoknows_answers_from_an_imported_register(tmp_path: Path) -> None:
    db = {"DATABASE_URL": f"sqlite:///{tmp_path / 'hub.db'}"}
    imported = hubspoke(tmp_path, "import", "usecases", str(OMB_FILE), "--preset", "omb", **db)
    assert imported.returncode == 0, imported.stderr
    assert "Next: hubspoke similar --scan finds their likely duplicates across departments" in imported.stdout

    asked = hubspoke(tmp_path, "whoknows", "forecasting", **db)

    assert asked.returncode == 0, asked.stderr
    out = asked.stdout
    assert "register import" not in out  # the stand-in for rows without an owner is never an expert
    people = [line for line in out.splitlines() if line.split(".", 1)[0].isdigit()]
    assert len(people) >= 3, out  # several owners, not one universal expert
    evidence = [line for line in out.splitlines() if line.strip().startswith("- Owns use case #")]
    assert evidence and all("forecast" in line.lower() or "time series" in line.lower() for line in evidence[:3])
    related = [line for line in out.splitlines() if line.startswith("related: #")]
    assert len(related) >= 3 and "forecast" in related[0].lower(), out
