"""`hubspoke export audit`: every audit event with who, when (UTC and the hub's zone), what and why."""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import sys
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session, sessionmaker

import bot.cli
from bot import cli_audit
from intake import audit, decisions, hub, people, submission
from intake.people import SYSTEM
from intake.schema import Decision, Submission
from storage import repo
from storage.db import UnitOfWork
from tests.factories import ANSWERS, slack

LONDON = ZoneInfo("Europe/London")
BEFORE_JULY = dt.datetime(2026, 6, 30, 22, 59, 59, tzinfo=dt.UTC)  # 23:59:59 on 30 June in London (BST)
JULY = dt.datetime(2026, 6, 30, 23, 0, tzinfo=dt.UTC)  # midnight starting 1 July in London
WINTER = dt.datetime(2026, 11, 2, 9, 30, tzinfo=dt.UTC)  # London is on GMT again
REASON = "Needs a DPIA first — ask Zoë."
SETTINGS = ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "SLACK_API_URL", "HUB_CHANNEL", "HUB_LEADS")


def run_cli(
    monkeypatch: pytest.MonkeyPatch, cwd: Path, database_url: str, *argv: str, stdin: str = "", **settings: str
) -> int:
    """Run `hubspoke ARGV` in this process, as bot.cli registers these commands, against `database_url`."""
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("HUB_TIMEZONE", "Europe/London")
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(cwd)  # no .env there
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    built: list[Any] = []
    real_core = bot.cli._core

    def core(s: Any) -> Any:
        built.append(real_core(s))
        return built[-1]

    monkeypatch.setattr(bot.cli, "_core", core)
    parser = argparse.ArgumentParser(prog="hubspoke")
    sub = parser.add_subparsers(dest="command", required=True)
    cli_audit.add_audit_export(sub.add_parser("export").add_subparsers(dest="what", required=True))
    cli_audit.add_commands(sub)
    try:
        args = parser.parse_args(argv)
        return int(args.func(args))
    finally:
        for made in built:
            made.session_factory.kw["bind"].dispose()


@pytest.fixture
def trail(session_factory: sessionmaker[Session]) -> dict[str, int]:
    """A department set up on 30 June, a reviewer added at the first second of 1 July, a submission and a decision
    in November, and an event whose reason is only in its before-state."""
    sf = session_factory
    with UnitOfWork(sf) as u:
        hub.add_department(u, SYSTEM, "Support", now=BEFORE_JULY)
    with UnitOfWork(sf) as u:
        hub.add_reviewer(u, SYSTEM, slack("URITA", "Rita"), skills=["nlp"], now=JULY)
    with UnitOfWork(sf) as u:
        sam = people.resolve_actor(u, slack("USAM", "Sam"), now=WINTER)[0]
    with UnitOfWork(sf) as u:
        rita = people.resolve_actor(u, slack("URITA", "Rita"), now=WINTER)[0]
    personal = Submission.model_validate({**ANSWERS, "data_sensitivity": "personal"})
    with UnitOfWork(sf) as u:
        uc = submission.submit_use_case(u, sam, personal, now=WINTER).use_case.id
    with UnitOfWork(sf) as u:
        decisions.decide(u, rita, uc, Decision.REQUEST_CHANGES, reason=REASON, now=WINTER + dt.timedelta(hours=1))
    with UnitOfWork(sf) as u:
        repo.audit(
            u.session,
            action="reopened",
            actor_id=sam.person_id,
            use_case_id=uc,
            before={"stage": "closed", "reason": "Paused for budget"},
            after={"stage": "ideation"},
            at=WINTER + dt.timedelta(days=1),
        )
        u.commit()
    return {"sam": sam.person_id, "rita": rita.person_id, "uc": uc}


def test_rows_from_a_day_in_id_order_with_who_when_in_both_zones_and_why(
    session_factory: sessionmaker[Session], trail: dict[str, int]
) -> None:
    with UnitOfWork(session_factory) as u:
        rows = audit.audit_rows(u, since=JULY, zone=LONDON)

    title = "Summarise support tickets"
    assert [(r["action"], r["actor"], r["actor_id"], r["use_case_id"], r["use_case_title"]) for r in rows] == [
        ("reviewer_added", "system", None, None, None),
        ("submitted", "Sam", trail["sam"], trail["uc"], title),
        ("decision:request_changes", "Rita", trail["rita"], trail["uc"], title),
        ("reopened", "Sam", trail["sam"], trail["uc"], title),
    ]
    assert [r["id"] for r in rows] == sorted(r["id"] for r in rows)
    assert [(r["at_utc"], r["at_hub"]) for r in rows] == [
        ("2026-06-30T23:00:00Z", "2026-07-01T00:00:00+01:00"),
        ("2026-11-02T09:30:00Z", "2026-11-02T09:30:00+00:00"),
        ("2026-11-02T10:30:00Z", "2026-11-02T10:30:00+00:00"),
        ("2026-11-03T09:30:00Z", "2026-11-03T09:30:00+00:00"),
    ]
    assert [r["reason"] for r in rows] == ["", "", REASON, "Paused for budget"]
    decided = rows[2]
    assert decided["before"] == {"status": "in_review", "round": 1, "decision": None}
    assert decided["after"] == {
        "status": "changes_requested",
        "round": 1,
        "decision": "request_changes",
        "reason": REASON,
    }

    with UnitOfWork(session_factory) as u:
        everything = audit.audit_rows(u, since=None, zone=LONDON)
    assert [(r["action"], r["at_hub"]) for r in everything[:2]] == [
        ("department_added", "2026-06-30T23:59:59+01:00"),
        ("reviewer_added", "2026-07-01T00:00:00+01:00"),
    ]
    assert everything[1:] == rows


def test_csv_has_compact_json_cells_and_jsonl_keeps_objects(
    session_factory: sessionmaker[Session], trail: dict[str, int]
) -> None:
    with UnitOfWork(session_factory) as u:
        rows = audit.audit_rows(u, since=JULY, zone=LONDON)

    out = io.StringIO()
    audit.write_audit(out, rows, "csv")
    text = out.getvalue()
    assert text.splitlines()[0] == (
        "id,action,actor,actor_id,use_case_id,use_case_title,at_utc,at_hub,before,after,reason"
    )
    cells = list(csv.DictReader(io.StringIO(text)))
    assert (
        cells[0]["actor"] == "system"
        and cells[0]["actor_id"] == ""
        and cells[0]["before"] == ('{"is_reviewer":false,"skills":[]}')
    )
    assert cells[2]["after"] == (
        '{"status":"changes_requested","round":1,"decision":"request_changes","reason":"Needs a DPIA first — ask Zoë."}'
    )
    assert cells[2]["reason"] == REASON
    assert cells[3]["after"] == '{"stage":"ideation"}' and cells[3]["at_hub"] == "2026-11-03T09:30:00+00:00"

    out = io.StringIO()
    audit.write_audit(out, rows, "jsonl")
    lines = out.getvalue().splitlines()
    assert [json.loads(line) for line in lines] == rows
    assert "Zoë" in lines[2]  # UTF-8, not \u escapes


def test_cli_exports_from_a_day_to_stdout_or_a_file(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    database_url: str,
    trail: dict[str, int],
) -> None:
    assert run_cli(monkeypatch, tmp_path, database_url, "export", "audit", "--since", "2026-07-01") == 0
    shown = capsys.readouterr()
    exported = list(csv.DictReader(io.StringIO(shown.out)))
    assert [(r["action"], r["actor"], r["at_hub"]) for r in exported] == [
        ("reviewer_added", "system", "2026-07-01T00:00:00+01:00"),
        ("submitted", "Sam", "2026-11-02T09:30:00+00:00"),
        ("decision:request_changes", "Rita", "2026-11-02T10:30:00+00:00"),
        ("reopened", "Sam", "2026-11-03T09:30:00+00:00"),
    ]
    assert shown.err == ""

    target = tmp_path / "audit.jsonl"
    assert run_cli(monkeypatch, tmp_path, database_url, "export", "audit", "--output", str(target)) == 0
    shown = capsys.readouterr()
    assert shown.out == ""
    assert shown.err == f"exported 5 audit events to {target}\n"
    written = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    assert [r["action"] for r in written][:2] == ["department_added", "reviewer_added"]
    assert written[3]["after"]["reason"] == REASON


@pytest.mark.parametrize("bad", ["2026-13-01", "01/07/2026", "yesterday"])
def test_a_bad_day_is_one_line_and_exit_status_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path, bad: str
) -> None:
    url = f"sqlite:///{tmp_path / 'never.db'}"
    assert run_cli(monkeypatch, tmp_path, url, "export", "audit", "--since", bad) == 2
    shown = capsys.readouterr()
    assert shown.out == ""
    assert shown.err == f"hubspoke: --since takes a day as YYYY-MM-DD (e.g. 2026-11-02), not {bad!r}\n"
    assert not (tmp_path / "never.db").exists()  # refused before the database was opened
