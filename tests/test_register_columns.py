"""Importing a register without a preset (columns found by name), refusing broken CSV, dry runs that write
nothing, owners, and Hubspoke's own export carrying the decision trail and the stage history."""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from alembic.runtime.migration import MigrationContext
from sqlalchemy.orm import Session, sessionmaker

from bot.cli import main
from bot.cli_register import SCAN_HINT, format_report
from intake import hub
from intake.closing import close_use_case
from intake.decisions import decide
from intake.people import SYSTEM
from intake.register import IMPORTER_NAME, ImportReport, export_use_cases, write_export
from intake.schema import Affected, Autonomy, DataAvailability, Decision, Sensitivity, Stage, Submission
from intake.stages import move_stage
from intake.submission import resubmit_use_case, submit_use_case
from storage.db import UnitOfWork, make_engine, make_session_factory, upgrade
from storage.models import AuditEvent, Department, Person, UseCase
from tests.conftest import NOW, make_actor
from tests.factories import slack
from tests.test_register import HEADER, MAP, ROWS, count, run_import, stored, write_register

Factory = sessionmaker[Session]
SETTINGS = ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "DATABASE_URL", "HUB_LEADS")


@dataclass
class Done:
    """What `hubspoke ...` printed and the status it exited with."""

    status: int
    out: list[str]
    err: str


Hubspoke = Callable[..., Done]


@pytest.fixture
def hubspoke(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Hubspoke:
    """Run `hubspoke ARGS` in this process, in tmp_path (no .env), against `database_url`."""
    monkeypatch.chdir(tmp_path)
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)

    def run(*args: str, database_url: str) -> Done:
        monkeypatch.setenv("DATABASE_URL", database_url)
        capsys.readouterr()
        status = main([*args])
        printed = capsys.readouterr()
        return Done(status, printed.out.splitlines(), printed.err)

    return run


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# --- columns found by name ----------------------------------------------------------------------


def test_columns_named_like_the_fields_import_without_map_and_the_report_says_which_were_read(
    hubspoke: Hubspoke, database_url: str, session_factory: Factory, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "reg.csv", "id,title,department,Notes\nL-1,Contract summaries,Legal,from 2024\n")

    done = hubspoke("import", "usecases", str(path), database_url=database_url)

    assert (done.status, done.err) == (0, "")
    assert done.out == [
        "reg.csv (reg): 1 row read",
        "  1 inserted",
        "  0 updated",
        "  0 unchanged",
        "  0 skipped",
        "  1 new department",
        "columns read: id → id, title → title, department → department",
        "columns ignored (kept in extra): Notes",
        "1 row had no stage: started in ideation",
        SCAN_HINT,  # what to do next: find its duplicates across departments
    ]
    row = stored(session_factory)["L-1"]
    assert (row.title, row.department.name, row.extra) == ("Contract summaries", "Legal", {"Notes": "from 2024"})


@pytest.mark.parametrize(
    ("column", "field"),
    [
        ("Name", "title"),
        ("use case name", "title"),
        ("Use_Case_Name", "title"),
        ("TEAM", "department"),
        ("unit", "department"),
        ("Business-Unit", "department"),
        ("division", "department"),
        ("phase", "stage"),
        ("Lifecycle Stage", "stage"),
        ("stage", "stage"),
        ("Status", "status"),
        ("owner", "owner"),
        ("contact", "owner"),
        ("Contact Email", "owner"),
        ("owner_email", "owner"),
        ("E-mail", "owner"),
        ("Risk Tier", "risk_tier"),
    ],
)
def test_a_column_named_like_a_field_or_its_synonym_is_read_into_it(
    session_factory: Factory, tmp_path: Path, column: str, field: str
) -> None:
    values = {"title": "Invoice matching", "department": "Finance", "stage": "Pilot", "status": "self_serve"}
    values |= {"owner": "ana@example.org", "risk_tier": "high"}
    header = {"title": "title", "department": "department", field: column}
    cells = {name: values[f] for f, name in header.items()}
    path = write_register(tmp_path / "reg.csv", ["id", *cells], [["F-1", *cells.values()]])

    report = run_import(session_factory, path, None, [])

    assert report.columns[column] == [field] and report.ignored == []
    row = stored(session_factory)["F-1"]
    read = {
        "title": row.title,
        "department": row.department.name,
        "stage": row.stage,
        "status": row.status,
        "owner": row.submitter.email,
        "risk_tier": row.risk_tier,
    }
    assert read[field] == ("experimentation" if field == "stage" else values[field])  # Pilot, in Hubspoke's words


def test_map_overrides_the_column_the_names_found(session_factory: Factory, tmp_path: Path) -> None:
    header = ["id", "title", "Name", "department"]
    path = write_register(tmp_path / "reg.csv", header, [["F-1", "INV-MATCH", "Invoice matching", "Finance"]])

    report = run_import(session_factory, path, None, ["title=Name"])

    assert report.columns == {"id": ["id"], "Name": ["title"], "department": ["department"]}
    assert report.ignored == ["title"]
    row = stored(session_factory)["F-1"]
    assert (row.title, row.extra) == ("Invoice matching", {"title": "INV-MATCH"})


def test_a_stage_column_is_read_when_other_fields_are_mapped(session_factory: Factory, tmp_path: Path) -> None:
    header = ["Ref", "Heading", "Group", "stage"]
    path = write_register(tmp_path / "reg.csv", header, [["F-1", "Invoice matching", "Finance", "Deployed"]])

    report = run_import(session_factory, path, None, ["title=Heading", "department=Group"], id_column="Ref")

    assert report.columns["stage"] == ["stage"] and report.notes == {}
    assert stored(session_factory)["F-1"].stage == "monitoring"


def test_report_counts_say_row_for_one_and_rows_for_more() -> None:
    one = ImportReport(source="reg", file="reg.csv", read=1, inserted=1, departments_created=["Legal"])
    one.people_created, one.notes = ["Ana"], {"no stage: started in ideation": 1}
    assert format_report(one).splitlines() == [
        "reg.csv (reg): 1 row read",
        "  1 inserted",
        "  0 updated",
        "  0 unchanged",
        "  0 skipped",
        "  1 new department",
        "  1 new person",
        "1 row had no stage: started in ideation",
    ]
    two = ImportReport(source="reg", file="reg.csv", read=2, inserted=2, departments_created=["Legal", "Tax"])
    two.people_created, two.notes = ["Ana", "Lee"], {"no stage: started in ideation": 2}
    lines = format_report(two).splitlines()
    assert lines[0] == "reg.csv (reg): 2 rows read"
    assert lines[-3:] == ["  2 new departments", "  2 new people", "2 rows had no stage: started in ideation"]


# --- broken CSV ------------------------------------------------------------------------------------

GOOD = "id,title,department\nA1,Summaries,Legal\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            GOOD + 'A2,"Forecasts, Legal\nA3,Triage,Legal\nA4,Search,Legal\n',
            "line 3: a quote opened here is never closed, so the rest of the file would be one cell",
        ),
        (
            GOOD + 'A2,"Forecasts,Legal\nA3,Triage,Legal\nA4,Search",Legal\n',
            "line 3: a quote opened here runs on to line 5, and that cell holds 'A3,Triage,Legal', which reads as "
            'a row of its own; close the quote, or double a quote inside a cell ("")',
        ),
        (
            GOOD + 'A2,"Forecasts,Legal\nA3,Triage,"Legal"\n',
            "line 3: a quote opened here runs on to line 4, so lines 3-4 would be one cell; close the quote, or "
            'double a quote inside a cell ("")',
        ),
        (
            GOOD + "A2,Forecasts,Legal\nA3,Triage,Legal,Tax\n",
            "line 4 has 4 cells, the header has 3: is there a ',' inside a cell that is not in double quotes?",
        ),
        (
            GOOD + "A2,Forecasts\n",
            "line 3 has 2 cells, the header has 3: a cell left out, or a line break inside a cell that is not in "
            "double quotes?",
        ),
        (
            "id;title;department\nA1;Summaries;Legal\n",
            "line 1: only one column was found; the file looks ;-separated: try --delimiter ';'",
        ),
        (
            "id\ttitle\tdepartment\nA1\tSummaries\tLegal\n",
            "line 1: only one column was found; the file looks tab-separated: try --delimiter tab",
        ),
        (
            "id|title|department\nA1|Summaries|Legal\n",
            "line 1: only one column was found; the file looks |-separated: try --delimiter '|'",
        ),
    ],
    ids=["unclosed", "swallowed", "closed-mid-cell", "more-cells", "fewer-cells", "semicolons", "tabs", "pipes"],
)
def test_a_broken_csv_is_refused_with_its_line_and_likely_cause_and_nothing_is_written(
    hubspoke: Hubspoke, database_url: str, session_factory: Factory, tmp_path: Path, text: str, message: str
) -> None:
    path = write_csv(tmp_path / "broken.csv", text)

    done = hubspoke("import", "usecases", str(path), database_url=database_url)

    assert (done.status, done.out) == (2, [])
    assert done.err == f"hubspoke: broken.csv: {message}\nNothing was imported.\n"
    assert count(session_factory, UseCase) == count(session_factory, Department) == count(session_factory, Person) == 0


@pytest.mark.parametrize(("delimiter", "given"), [(";", ";"), ("\t", "tab"), ("|", "|")])
def test_delimiter_reads_a_file_separated_by_another_character(
    hubspoke: Hubspoke, database_url: str, session_factory: Factory, tmp_path: Path, delimiter: str, given: str
) -> None:
    text = GOOD.replace(",", delimiter) + delimiter.join(["A2", '"Forecasts; tabs\tand |pipes|"', "Tax"]) + "\n"
    path = write_csv(tmp_path / "reg.csv", text)

    done = hubspoke("import", "usecases", str(path), "--delimiter", given, database_url=database_url)

    assert done.status == 0, done.err
    assert done.out[:2] == ["reg.csv (reg): 2 rows read", "  2 inserted"]
    assert stored(session_factory)["A2"].title == "Forecasts; tabs\tand |pipes|"


# --- dry runs ----------------------------------------------------------------------------------------


def test_dry_run_creates_no_database_and_still_reports_what_it_would_import(hubspoke: Hubspoke, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "reg.csv", "id,title,team,owner\nA1,Summaries,Legal,jane.doe@x.gov\n")
    db = tmp_path / "not-yet" / "hub.db"
    (tmp_path / "not-yet").mkdir()

    done = hubspoke("import", "usecases", str(path), "--dry-run", database_url=f"sqlite:///{db}")

    assert done.status == 0, done.err
    assert done.out == [
        "reg.csv (reg): 1 row read",
        "  1 inserted",
        "  0 updated",
        "  0 unchanged",
        "  0 skipped",
        "  1 new department",
        "  1 new person",
        "columns read: id → id, title → title, team → department, owner → owner",
        "1 row had no stage: started in ideation",
        "Dry run: nothing was written.",
    ]
    assert list((tmp_path / "not-yet").iterdir()) == []


def test_dry_run_against_an_existing_database_compares_with_its_rows_and_writes_nothing(
    hubspoke: Hubspoke, database_url: str, session_factory: Factory, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "reg.csv", "id,title,department\nA1,Summaries,Legal\n")
    assert hubspoke("import", "usecases", str(path), database_url=database_url).status == 0
    write_csv(path, "id,title,department,owner\nA1,Summaries of contracts,Legal,Lee Park\nA2,Search,Tax,\n")

    done = hubspoke("import", "usecases", str(path), "--dry-run", database_url=database_url)

    assert done.status == 0, done.err
    assert done.out[:7] == [
        "reg.csv (reg): 2 rows read",
        "  1 inserted",
        "  1 updated",
        "  0 unchanged",
        "  0 skipped",
        "  1 new department",
        "  1 new person",
    ]
    assert stored(session_factory)["A1"].title == "Summaries"
    assert (count(session_factory, UseCase), count(session_factory, Person), count(session_factory, AuditEvent)) == (
        1, 1, 1,
    )  # fmt: skip


def test_dry_run_does_not_migrate_an_old_database(hubspoke: Hubspoke, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0005")
    path = write_csv(tmp_path / "reg.csv", GOOD)

    done = hubspoke("import", "usecases", str(path), "--dry-run", database_url=url)

    assert (done.status, done.out) == (1, [])
    assert "a dry run does not migrate it: run `hubspoke db upgrade`" in done.err
    with make_engine(url).connect() as conn:
        assert MigrationContext.configure(conn).get_current_heads() == ("0005",)


# --- owners ----------------------------------------------------------------------------------------


def test_an_owner_column_finds_people_by_email_or_name_and_adds_the_rest_once(
    session_factory: Factory, tmp_path: Path
) -> None:
    with UnitOfWork(session_factory) as u:
        u.session.add(Person(name="Rita Ross", email="rita@example.org", created_at=NOW))
        u.commit()
    sam = make_actor(session_factory, "USAM", "Sam Lee")
    header = ["id", "title", "department", "Owner Email"]
    rows = [
        ["A1", "Summaries", "Legal", "RITA@Example.org"],
        ["A2", "Search", "Legal", "sam lee"],
        ["A3", "Forecasts", "Tax", "jane.doe@x.gov"],
        ["A4", "Triage", "Tax", "Jane.Doe@x.gov"],
        ["A5", "Routing", "Tax", "Lee Park"],
        ["A6", "Chat", "Tax", "LEE PARK"],
        ["A7", "Translation", "Tax", ""],
        ["A8", "OCR", "Tax", "https://example.org/contact"],
        ["A9", "Alerts", "Tax", "Omar Haddad <omar@x.gov>, ops@x.gov"],
    ]
    path = write_register(tmp_path / "reg.csv", header, rows)

    report = run_import(session_factory, path, None, [])

    assert report.people_created == ["Jane Doe", "Omar Haddad", "Lee Park"]  # those with an e-mail first
    assert report.notes["a web address, not a person, in Owner Email: owned by the register import"] == 1
    owners = {k: (uc.submitter.name, uc.submitter.email) for k, uc in stored(session_factory).items()}
    assert owners == {
        "A1": ("Rita Ross", "rita@example.org"),
        "A2": ("Sam Lee", None),
        "A3": ("Jane Doe", "jane.doe@x.gov"),
        "A4": ("Jane Doe", "jane.doe@x.gov"),
        "A5": ("Lee Park", None),
        "A6": ("Lee Park", None),
        "A7": (IMPORTER_NAME, None),
        "A8": (IMPORTER_NAME, None),
        "A9": ("Omar Haddad", "omar@x.gov"),
    }
    assert stored(session_factory)["A2"].submitter_id == sam.person_id
    assert stored(session_factory)["A8"].extra == {"Owner Email": "https://example.org/contact"}
    assert stored(session_factory)["A9"].extra == {"Owner Email": "Omar Haddad <omar@x.gov>, ops@x.gov"}
    people = count(session_factory, Person)
    assert people == 6  # Rita, Sam, Jane, Omar, Lee and the register import

    again = run_import(session_factory, path, None, [])
    assert (again.inserted, again.updated, again.unchanged, again.people_created) == (0, 0, 9, [])
    assert count(session_factory, Person) == people

    rows[4][3] = "rita@example.org"  # a new owner is an update
    moved = run_import(session_factory, write_register(path, header, rows), None, [])
    assert (moved.updated, moved.unchanged) == (1, 8)
    assert stored(session_factory)["A5"].submitter.name == "Rita Ross"


def test_the_omb_preset_makes_the_contact_email_the_owner(session_factory: Factory, tmp_path: Path) -> None:
    header = ["agency", "agency_name", "id", "use_case_name", "agency_bureau", "contact_email"]
    rows = [
        ["DOT", "Department of Transportation", "DOT-1", "Pothole finder", "FHWA", "Pat.Kim@dot.gov"],
        ["DOT", "Department of Transportation", "DOT-2", "Crash triage", "NHTSA", "pat.kim@dot.gov"],
        ["DOT", "Department of Transportation", "DOT-3", "Sign reader", "FHWA", ""],
    ]
    report = run_import(session_factory, write_register(tmp_path / "omb.csv", header, rows), "omb", [])

    assert report.people_created == ["Pat Kim"] and report.columns["contact_email"] == ["owner"]
    rows_ = stored(session_factory)
    assert rows_["DOT:DOT-1"].submitter_id == rows_["DOT:DOT-2"].submitter_id
    assert rows_["DOT:DOT-1"].submitter.email == "pat.kim@dot.gov"
    assert rows_["DOT:DOT-1"].extra["contact_email"] == "Pat.Kim@dot.gov"  # the register's own value, as ever
    assert rows_["DOT:DOT-3"].submitter.name == IMPORTER_NAME


# --- the export's trail, and restoring it -----------------------------------------------------------

T = [NOW + dt.timedelta(hours=h) for h in range(6)]
ANSWERS = Submission(
    title="Meeting notes", problem="Minutes take an hour to write up", department="Finance", benefit="Time back",
    success_metric="an hour saved a week", data_availability=DataAvailability.AVAILABLE,
    data_sensitivity=Sensitivity.PERSONAL, people_affected=Affected.INTERNAL, autonomy=Autonomy.ASSISTIVE,
)  # fmt: skip
DECISIONS = [
    {"round": 1, "reviewer": "Rita", "decided_by": "Rita", "decision": "request_changes",
     "decided_at": T[1].isoformat(), "reason": "Say which meetings"},
    {"round": 2, "reviewer": "Rita", "decided_by": "Rita", "decision": "approve",
     "decided_at": T[3].isoformat(), "reason": None},
]  # fmt: skip
STAGES = [
    {"stage": "experimentation", "at": T[4].isoformat(), "by": "Sam"},
    {"stage": "closed", "at": T[5].isoformat(), "by": "Sam"},
]


def a_live_hub(factory: Factory, tmp_path: Path) -> tuple[int, int]:
    """A hub with a register imported, Sam's use case reviewed twice, moved on and closed, and Omar's waiting."""
    run_import(factory, write_register(tmp_path / "reg.csv", HEADER, ROWS[:2]), None, MAP, id_column="Ref")
    with UnitOfWork(factory) as u:
        hub.add_reviewer(u, SYSTEM, slack("URITA", "Rita"), skills=["meetings"], now=NOW)
    rita, sam = make_actor(factory, "URITA", "Rita"), make_actor(factory, "USAM", "Sam")
    steps: list[Callable[[UnitOfWork], object]] = [
        lambda u: decide(u, rita, notes, Decision.REQUEST_CHANGES, reason="Say which meetings", now=T[1]),
        lambda u: resubmit_use_case(u, sam, notes, ANSWERS.model_copy(update={"problem": "Board minutes"}), now=T[2]),
        lambda u: decide(u, rita, notes, Decision.APPROVE, now=T[3]),
        lambda u: move_stage(u, sam, notes, Stage.EXPERIMENTATION, now=T[4]),
        lambda u: close_use_case(u, sam, notes, "Bought a tool instead", now=T[5]),
    ]
    with UnitOfWork(factory) as u:
        notes = submit_use_case(u, sam, ANSWERS, now=T[0]).use_case.id
    for step in steps:
        with UnitOfWork(factory) as u:
            step(u)
    omar = make_actor(factory, "UOMAR", "Omar")
    with UnitOfWork(factory) as u:
        waiting = submit_use_case(u, omar, ANSWERS.model_copy(update={"title": "Rota planner"}), now=T[5]).use_case.id
    return notes, waiting


def export(factory: Factory, path: Path) -> Path:
    fmt = "jsonl" if path.suffix == ".jsonl" else "csv"
    with UnitOfWork(factory) as u, path.open("w", encoding="utf-8", newline="") as fh:
        write_export(fh, export_use_cases(u), fmt)
    return path


def trails(path: Path) -> dict[str, tuple[list[object], list[object]]]:
    """Each exported row's (decisions, stage_history), by title, as a person reading the file finds them."""
    if path.suffix == ".jsonl":
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        return {r["title"]: (r["decisions"], r["stage_history"]) for r in rows}
    with path.open(encoding="utf-8", newline="") as fh:
        return {r["title"]: (json.loads(r["decisions"]), json.loads(r["stage_history"])) for r in csv.DictReader(fh)}


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_the_export_carries_each_use_cases_decision_trail_and_stage_history(
    session_factory: Factory, tmp_path: Path, suffix: str
) -> None:
    a_live_hub(session_factory, tmp_path)

    found = trails(export(session_factory, tmp_path / f"hub{suffix}"))

    assert found["Meeting notes"] == (DECISIONS, STAGES)
    assert found["Rota planner"] == ([{"round": 1, "reviewer": "Rita", "decided_by": None, "decision": None,
                                       "decided_at": None, "reason": None}], [])  # fmt: skip
    assert found["Invoice matching"] == ([], [])


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_the_hubspoke_preset_restores_an_export_into_an_empty_database(
    hubspoke: Hubspoke, database_url: str, session_factory: Factory, tmp_path: Path, suffix: str
) -> None:
    old_url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(old_url)
    old = make_session_factory(make_engine(old_url))
    notes, _ = a_live_hub(old, tmp_path)
    path = export(old, tmp_path / f"old{suffix}")

    done = hubspoke("import", "usecases", str(path), "--preset", "hubspoke", database_url=database_url)

    assert done.status == 0, done.err
    assert done.out[:7] == [
        f"old{suffix} (hubspoke): 4 rows read",
        "  3 inserted",
        "  0 updated",
        "  0 unchanged",
        "  1 skipped",
        "  2 new departments",
        "  2 new people",
    ]
    line = 5 if suffix == ".csv" else 4  # Rota planner, waiting on Rita: the header is line 1 of a CSV
    assert done.out[-2:] == [
        f"skipped line {line}: status in_review needs a hub review, which an import cannot open",
        SCAN_HINT,
    ]
    rows = stored(session_factory)
    assert sorted(rows) == ["FIN-1", "FIN-2", f"hubspoke:#{notes}"]
    restored = rows[f"hubspoke:#{notes}"]
    assert (restored.title, restored.problem, restored.department.name, restored.stage, restored.status) == (
        "Meeting notes", "Board minutes", "finance", "closed", "approved",  # as the register first spelt it
    )  # fmt: skip
    assert (restored.risk_tier, restored.submitter.name, restored.source) == ("medium", "Sam", "hubspoke")
    invoices = rows["FIN-1"]
    assert (invoices.submitter.name, invoices.submitter.email, invoices.source) == (
        "Ana", "ana@example.org", "reg",
    )  # fmt: skip
    assert (invoices.stage, invoices.extra) == ("experimentation", {"Cost centre": "CC-10"})

    again = export(session_factory, tmp_path / f"new{suffix}")
    assert trails(again)["Meeting notes"] == (DECISIONS, STAGES)
    back = run_import(session_factory, path, "hubspoke", [])
    assert (back.inserted, back.updated, back.unchanged) == (0, 0, 3)
    assert count(session_factory, Person) == 3  # Ana, Sam and the register import
    second = run_import(session_factory, again, "hubspoke", [])
    assert (second.inserted, second.updated, second.unchanged, second.skipped) == (0, 0, 3, [])
    assert trails(export(session_factory, tmp_path / f"third{suffix}")) == trails(again)


def test_the_hubspoke_preset_never_changes_a_live_hubs_chat_use_cases(session_factory: Factory, tmp_path: Path) -> None:
    old_url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(old_url)
    old = make_session_factory(make_engine(old_url))
    kim = make_actor(old, "UKIM", "Kim")
    self_serve = ANSWERS.model_copy(update={"data_sensitivity": Sensitivity.INTERNAL})
    with UnitOfWork(old) as u:
        clash = submit_use_case(u, kim, self_serve, now=NOW).use_case
    with UnitOfWork(old) as u:
        other = submit_use_case(u, kim, self_serve.model_copy(update={"title": "Rota planner"}), now=NOW).use_case
    assert (clash.status, other.status) == ("self_serve", "self_serve")
    path = export(old, tmp_path / "old.csv")
    lee = make_actor(session_factory, "ULEE", "Lee")
    with UnitOfWork(session_factory) as u:
        ours = submit_use_case(u, lee, self_serve.model_copy(update={"title": "Our notes"}), now=NOW).use_case
    assert ours.id == clash.id  # the export's #1 is another hub's: this hub has its own #1

    report = run_import(session_factory, path, "hubspoke", [])

    assert (report.inserted, report.updated, report.unchanged) == (1, 0, 0)
    assert [(s.line, s.reason) for s in report.skipped] == [
        (2, f"use case #{ours.id}: it was submitted in chat; an import does not change it")
    ]
    rows = stored(session_factory)
    assert sorted(rows) == [f"#{ours.id}", f"hubspoke:#{other.id}"]
    kept = rows[f"#{ours.id}"]
    assert (kept.title, kept.submitter_id, kept.source, kept.updated_at) == ("Our notes", lee.person_id, None, NOW)
    restored = rows[f"hubspoke:#{other.id}"]
    assert (restored.title, restored.submitter.name, restored.source) == ("Rota planner", "Kim", "hubspoke")
