"""Importing and exporting a register: the OMB inventory, custom mappings, bad rows, round trips, the CLI."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.cli_register import ProgressLine, format_report
from intake import hub
from intake.errors import HubError
from intake.people import SYSTEM
from intake.register import (
    IMPORTER_NAME,
    ImportReport,
    build_mapping,
    export_use_cases,
    import_register,
    omb_department,
    read_table,
    write_export,
)
from intake.register.presets import EXPORT_COLUMNS
from intake.register.service import Progress
from intake.schema import Affected, Autonomy, DataAvailability, Sensitivity, Submission
from intake.submission import submit_use_case
from storage.db import UnitOfWork
from storage.models import AuditEvent, Department, Person, UseCase
from tests.conftest import NOW, SHARED_DATA, make_actor

Factory = sessionmaker[Session]
INVENTORY = SHARED_DATA / "us-federal-ai-inventory-2025"
OMB_FILE = INVENTORY / "2025_individually_reported_AI_use_cases.csv"

HEADER = ["Ref", "Name", "Team", "Phase", "Personal data?", "Why", "Owner", "Cost centre"]
ROWS = [
    ["FIN-1", "Invoice matching", "finance", "Pilot", "no", "Match invoices to orders", "ana@example.org", "CC-10"],
    ["FIN-2", "Churn model", "Customer Care", "deployment", "yes", "Spot customers likely to leave", "", ""],
    ["FIN-3", "", "Finance", "Pilot", "no", "A row without a title", "", ""],
    ["FIN-4", "Crystal ball", "Finance", "Someday", "no", "Predict everything", "", ""],
]
MAP = ["title=Name", "department=Team", "stage=Phase", "data_sensitivity=Personal data?", "problem=Why"]


def write_register(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    """The same register as .csv, .jsonl or .xlsx, by the path's extension."""
    if path.suffix == ".csv":
        with path.open("w", encoding="utf-8-sig", newline="") as fh:
            csv.writer(fh).writerows([header, *rows])
    elif path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(dict(zip(header, r, strict=True))) + "\n" for r in rows))
    else:
        from openpyxl import Workbook

        book = Workbook()
        for row in [header, *rows]:
            book.active.append(row)
        book.save(path)
    return path


def run_import(
    factory: Factory,
    path: Path,
    preset: str | None,
    pairs: list[str],
    *,
    id_column: str | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    """Import a file as `hubspoke import usecases` does, at NOW."""
    mapping = build_mapping(preset, pairs, id_column=id_column, default_source=path.stem)
    with UnitOfWork(factory) as u:
        table = read_table(path)
        return import_register(u, table, mapping, now=NOW, dry_run=dry_run, progress=progress, file_name=path.name)


def stored(factory: Factory) -> dict[str, UseCase]:
    with factory() as s:
        return {uc.source_id or f"#{uc.id}": uc for uc in s.scalars(select(UseCase))}


def count(factory: Factory, model: type) -> int:
    with factory() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


# --- the real OMB inventory ------------------------------------------------------------------


@pytest.mark.skipif(not OMB_FILE.is_file(), reason="shared/data inventory not present")
def test_omb_inventory_imports_every_row_or_says_why_and_reimport_changes_nothing(
    session_factory: Factory, tmp_path: Path
) -> None:
    dry = run_import(session_factory, OMB_FILE, "omb", [], dry_run=True)
    assert (dry.read, dry.inserted, len(dry.skipped)) == (3611, 3608, 3)
    assert count(session_factory, UseCase) == count(session_factory, Department) == count(session_factory, Person) == 0

    seen: list[int] = []
    report = run_import(session_factory, OMB_FILE, "omb", [], progress=lambda done, total: seen.append(done))
    assert (report.inserted, report.updated, report.unchanged) == (3608, 0, 0)
    assert report.inserted + len(report.skipped) == report.read == 3611
    assert [(s.line, s.reason) for s in report.skipped] == [
        (1065, "missing title (use_case_name)"),
        (1502, "duplicate id DOJ:DOJ-0357 (first on line 1468)"),
        (1665, "duplicate id DOJ:DOJ-0160 (first on line 1618)"),
    ]
    assert report.notes == {
        "no development_stage: started in ideation": 338,
        "a web address, not a person, in contact_email: owned by the register import": 167,
    }
    assert seen == [500, 1000, 1500, 2000, 2500, 3000, 3500, 3608]

    rows = stored(session_factory)
    cftc = rows["CFTC:CFTC-003"]
    assert (cftc.title, cftc.department.name, cftc.stage, cftc.status, cftc.risk_tier) == (
        "Stress Testing Scenarios with Deep Learning", "CFTC / DCR", "ideation", "approved", "low",
    )  # fmt: skip
    assert cftc.source == "omb-ai-inventory" and cftc.submitter.name == IMPORTER_NAME  # no contact_email
    assert cftc.submitter.identities == []
    deasil = rows["DOJ:DOJ-0061"]  # Deployed, high-impact, PII
    assert (deasil.title, deasil.department.name) == ("LPR: DEA DEASIL Program", "DOJ / DEA")
    assert (deasil.submitter.name, deasil.submitter.email) == ("AI", "ai@usdoj.gov")  # contact_email AI@usdoj.gov
    assert rows["DOC:DOC-25"].submitter.email == "jacob.carley@noaa.gov"  # the first of two; extra keeps both
    assert rows["DOC:DOC-25"].extra["contact_email"] == "jacob.carley@noaa.gov, cc: daryl.kleist@noaa.gov"
    assert rows["DOC:DOC-26"].submitter.name == "Jacob Carley"
    nixon = rows["DOC:DOC-195"].submitter  # contact_email "Gerardo Nixon": by name, the one another row gives
    assert (nixon.name, nixon.email) == ("Gerardo Nixon", "gerardo.nixon@noaa.gov")
    assert len(report.people_created) == 183 and count(session_factory, Person) == 184  # and the register import
    assert deasil.stage == "monitoring"
    assert (deasil.risk_tier, deasil.data_sensitivity, deasil.topic_area) == ("high", "personal", "Law Enforcement")
    assert deasil.triage_reasons[0] == "High: the register marks it high-impact (is_high_impact: High-impact)"
    assert deasil.triage_reasons[-1] == "From the omb-ai-inventory register: not reviewed by the hub"
    liger = rows["DHS:DHS-2454"]  # Pilot, PII, not high-impact
    assert (liger.stage, liger.risk_tier, liger.department.name) == ("experimentation", "medium", "DHS / MGMT")
    assert rows["DHS:DHS-165"].stage == "closed"  # Retired
    assert rows["DHS:DHS-185"].links[0].startswith("https://www.dhs.gov/publication/")
    assert rows["DHS:DHS-185"].extra["is_high_impact"] == "High-impact"
    assert sorted(uc.title for k, uc in rows.items() if k.startswith("STB:")) == ["Copilot for Appian", "RelativityOne"]
    with session_factory() as s:
        assert s.scalar(select(func.count()).where(Department.name == "HHS / CDC")) == 1

    again = run_import(session_factory, OMB_FILE, "omb", [])
    assert (again.inserted, again.updated, again.unchanged, again.people_created) == (0, 0, 3608, [])
    assert count(session_factory, Person) == 184
    assert count(session_factory, AuditEvent) == 1  # the first import's; a no-op import records nothing

    out = tmp_path / "hub.csv"
    with UnitOfWork(session_factory) as u, out.open("w", encoding="utf-8", newline="") as fh:
        write_export(fh, export_use_cases(u), "csv")
    back = run_import(session_factory, out, "hubspoke", [])
    assert (back.inserted, back.updated, back.unchanged, back.skipped) == (0, 0, 3608, [])
    assert count(session_factory, Person) == 184


@pytest.mark.skipif(not INVENTORY.is_dir(), reason="shared/data inventory not present")
def test_the_cots_list_is_not_the_omb_inventory() -> None:
    table = read_table(INVENTORY / "2025_consolidated_COTS_AI_use_cases.csv")
    with pytest.raises(HubError, match="has no column 'agency', 'id', 'use_case_name'"):
        build_mapping("omb", [], default_source="cots").check(table.columns, "cots.csv")


@pytest.mark.parametrize(
    ("agency", "name", "bureau", "department"),
    [
        ("HHS", "Department of Health and Human Services", "HHS/CDC", "HHS / CDC"),
        ("DOJ", "Department of Justice", "Department of Justice / DEA", "DOJ / DEA"),
        ("STB", "Surface Transportation Board", "Surface Transportation Board", "STB"),
        ("ED", "Department of Education", "EDA Office", "ED / EDA Office"),
        ("GSA", "General Services Administration", "", "GSA"),
    ],
)
def test_omb_department_is_agency_slash_bureau_without_repeating_the_agency(
    agency: str, name: str, bureau: str, department: str
) -> None:
    assert omb_department(agency, name, bureau) == department


# --- custom mappings, formats and bad rows ---------------------------------------------------


@pytest.mark.parametrize(("suffix", "unit", "first"), [(".csv", "line", 2), (".jsonl", "line", 1), (".xlsx", "row", 2)])
def test_a_custom_register_imports_with_map_from_each_format(
    session_factory: Factory, tmp_path: Path, suffix: str, unit: str, first: int
) -> None:
    with UnitOfWork(session_factory) as u:
        hub.add_department(u, SYSTEM, "Finance", now=NOW)
    path = write_register(tmp_path / f"team-register{suffix}", HEADER, ROWS)
    report = run_import(session_factory, path, None, MAP, id_column="Ref")

    assert (report.inserted, report.unit, report.departments_created) == (2, unit, ["Customer Care"])
    assert [(s.line - first, s.reason.split(" (")[0]) for s in report.skipped] == [
        (2, "missing title"),
        (3, "unknown Phase 'Someday'"),
    ]
    rows = stored(session_factory)
    invoices, churn = rows["FIN-1"], rows["FIN-2"]
    assert (invoices.department.name, invoices.stage, invoices.risk_tier) == ("Finance", "experimentation", "low")
    assert (invoices.problem, invoices.extra, invoices.source) == (
        "Match invoices to orders", {"Cost centre": "CC-10"}, "team-register",
    )  # fmt: skip
    assert (invoices.submitter.name, invoices.submitter.email) == ("Ana", "ana@example.org")  # Owner, by its name
    assert churn.submitter.name == IMPORTER_NAME
    assert (churn.stage, churn.data_sensitivity, churn.risk_tier, churn.status) == (
        "deployment", "personal", "medium", "approved",
    )  # fmt: skip
    assert churn.triage_reasons[0] == "Medium: the register says it uses personal data (Personal data?: yes)"


def test_bad_rows_are_skipped_with_their_line_and_reason_and_the_rest_imported(
    session_factory: Factory, tmp_path: Path
) -> None:
    path = tmp_path / "legal.csv"
    path.write_text(
        "id,title,department,stage,target_date,status\n"
        'A1,"Summarise\nlong\nreports",Legal,ideation,2027-01-31,\n'
        "A2,,Legal,ideation,,\n"
        "A3,Forecast,Legal,later,,\n"
        "A1,Again,Legal,ideation,,\n"
        ",No id,Legal,ideation,,\n"
        "A5,Bad date,Legal,ideation,31/01/2027,\n"
        "A6,No team,,ideation,,\n"
        "A7,Waiting,Legal,ideation,,in_review\n",
        encoding="utf-8",
    )
    pairs = ["title=title", "department=department", "stage=stage", "target_date=target_date", "status=status"]
    report = run_import(session_factory, path, None, pairs)

    assert report.inserted == 1 and stored(session_factory)["A1"].title == "Summarise\nlong\nreports"
    summary = format_report(report).splitlines()
    assert summary[:2] == ["legal.csv (legal): 8 rows read", "  1 inserted"]
    assert summary[-7:] == [
        "skipped line 5: missing title (title)",
        "skipped line 6: unknown stage 'later' (expected one of: Pre-deployment, Pilot, Deployed, Retired, "
        "ideation, experimentation, production_engineering, deployment, monitoring, closed)",
        "skipped line 7: duplicate id A1 (first on line 2)",
        "skipped line 8: missing id (id)",
        "skipped line 9: target_date '31/01/2027' is not a date (YYYY-MM-DD)",
        "skipped line 10: missing department (department)",
        "skipped line 11: status in_review needs a hub review, which an import cannot open",
    ]


def test_reimport_counts_only_real_changes_and_dry_run_writes_nothing(session_factory: Factory, tmp_path: Path) -> None:
    path = write_register(tmp_path / "reg.csv", HEADER, ROWS[:2])
    run_import(session_factory, path, None, MAP, id_column="Ref")
    write_register(path, HEADER, [ROWS[0], [*ROWS[1][:3], "Retired", *ROWS[1][4:]]])

    dry = run_import(session_factory, path, None, MAP, id_column="Ref", dry_run=True)
    assert (dry.inserted, dry.updated, dry.unchanged, dry.dry_run) == (0, 1, 1, True)
    assert stored(session_factory)["FIN-2"].stage == "deployment"

    report = run_import(session_factory, path, None, MAP, id_column="Ref")
    assert (report.inserted, report.updated, report.unchanged) == (0, 1, 1)
    rows = stored(session_factory)
    assert rows["FIN-2"].stage == "closed" and count(session_factory, UseCase) == 2
    assert rows["FIN-1"].updated_at == rows["FIN-1"].created_at


def test_mapping_mistakes_are_refused_before_any_row_is_read() -> None:
    with pytest.raises(HubError, match="Unknown field 'name' in --map"):
        build_mapping(None, ["name=Name"], default_source="x")
    with pytest.raises(HubError, match=r"Map a column onto department: --map department=COLUMN"):
        build_mapping(None, ["title=Name"], default_source="x").check(HEADER, "reg.csv")
    typo = build_mapping(None, ["title=Nmae", "department=Team"], id_column="Ref", default_source="x")
    with pytest.raises(HubError, match=r"reg\.csv has no column 'Nmae'"):
        typo.check(HEADER, "reg.csv")


# --- export and round trip --------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_export_then_reimport_changes_nothing_and_chat_use_cases_are_not_overwritten(
    session_factory: Factory, tmp_path: Path, fmt: str
) -> None:
    run_import(session_factory, write_register(tmp_path / "reg.xlsx", HEADER, ROWS), None, MAP, id_column="Ref")
    sam = make_actor(session_factory, "USAM", "Sam")
    answers = Submission(
        title="Meeting notes", problem="Minutes take an hour to write up", department="Finance", benefit="Time back",
        success_metric="an hour saved a week", data_availability=DataAvailability.AVAILABLE,
        data_sensitivity=Sensitivity.PERSONAL, people_affected=Affected.INTERNAL, autonomy=Autonomy.ASSISTIVE,
    )  # fmt: skip
    with UnitOfWork(session_factory) as u:
        native = submit_use_case(u, sam, answers, now=NOW).use_case
    assert native.status == "in_review"  # waiting on a review the export cannot carry

    out = tmp_path / f"hub.{fmt}"
    with UnitOfWork(session_factory) as u, out.open("w", encoding="utf-8", newline="") as fh:
        write_export(fh, export_use_cases(u), fmt)
    table = read_table(out)
    assert "extra.Cost centre" in table.columns
    if fmt == "csv":
        assert table.columns == [*EXPORT_COLUMNS, "extra.Cost centre"]
    back = run_import(session_factory, out, "hubspoke", [])
    assert (back.inserted, back.updated, back.unchanged, back.skipped) == (0, 0, 3, [])

    if fmt == "csv":
        text = out.read_text(encoding="utf-8").replace("Meeting notes", "Edited notes").replace("Churn model", "Churn")
        out.write_text(text, encoding="utf-8")
        edited = run_import(session_factory, out, "hubspoke", [])
        assert (edited.updated, edited.unchanged) == (1, 1)
        assert [s.reason for s in edited.skipped] == [
            f"use case #{native.id}: it was submitted in chat; an import does not change it"
        ]
        assert stored(session_factory)["FIN-2"].title == "Churn"


# --- the command line -------------------------------------------------------------------------


def test_cli_dry_run_prints_the_summary_and_writes_nothing(tmp_path: Path) -> None:
    omb = ["agency", "agency_name", "id", "use_case_name", "agency_bureau", "development_stage", "is_high_impact"]
    rows = [
        ["DOT", "Department of Transportation", "DOT-1", "Pothole finder", "FHWA", "Deployed", "Not High-impact"],
        ["DOT", "Department of Transportation", "DOT-2", "Crash triage", "NHTSA", "Pilot", "High-impact"],
        ["DOT", "Department of Transportation", "DOT-3", "", "FAA", "Pilot", ""],
    ]
    path = write_register(tmp_path / "omb.csv", omb, rows)
    db = tmp_path / "hub.db"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{db}"}
    cli = Path(sys.executable).with_name("hubspoke")
    command = [str(cli)] if cli.exists() else [sys.executable, "-m", "bot.cli"]
    done = subprocess.run(
        [*command, "import", "usecases", str(path), "--preset", "omb", "--dry-run"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "omb.csv (omb-ai-inventory): 3 rows read",
        "  2 inserted",
        "  0 updated",
        "  0 unchanged",
        "  1 skipped",
        "  2 new departments",
        "columns read: agency → id + department, agency_name → department, id → id, use_case_name → title, "
        "agency_bureau → department, development_stage → stage, is_high_impact → high_impact",
        "skipped line 4: missing title (use_case_name)",
        "Dry run: nothing was written.",
    ]
    assert not db.exists()


def test_progress_is_one_line_per_batch_when_stderr_is_not_a_terminal() -> None:
    err = io.StringIO()
    progress = ProgressLine(err)
    for done in (500, 1000, 1200):
        progress(done, 1200)
    assert err.getvalue().splitlines() == [
        "importing: 500/1,200 rows",
        "importing: 1,000/1,200 rows",
        "importing: 1,200/1,200 rows",
    ]
