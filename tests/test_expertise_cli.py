"""`hubspoke expertise import` and `hubspoke whoknows` (text, --json, --batch), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from bot.cli import main
from bot.expertise.importer import import_evidence
from storage.db import UnitOfWork
from storage.models import Evidence, Person
from tests.conftest import NOW
from tests.factories import on_slack

UowFactory = Callable[[], UnitOfWork]

LINES = [
    {
        "person": "UANA",
        "name": "Ana",
        "text": "Text classification of support tickets",
        "tags": ["nlp"],
        "kind": "built",
        "weight": 2,
        "at": "2026-10-01T00:00:00Z",
    },
    {"person": "UBEN", "name": "Ben", "text": "Demand forecasting with time series", "at": "2026-06-01"},
    {"person": "UBEN", "text": "Showcase: forecasting store demand", "kind": "showcase", "at": "2026-09-01T12:00:00"},
]
BAD = [
    "this is not json",
    json.dumps({"person": "UCAL", "text": "", "tags": []}),
    json.dumps({"person": 987654, "text": "nobody has this id"}),
    json.dumps({"person": "UDEE", "text": "ok", "weight": -1}),
    json.dumps({"person": "UEVE", "text": "ok", "at": "last tuesday"}),
]


def evidence_file(tmp_path: Path) -> Path:
    path = tmp_path / "evidence.jsonl"
    lines = [json.dumps(LINES[0]), BAD[0], json.dumps(LINES[1]), "", *BAD[1:], json.dumps(LINES[2])]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_import_is_idempotent_and_reports_bad_lines_by_number(uow: UowFactory, tmp_path: Path) -> None:
    text = evidence_file(tmp_path).read_text(encoding="utf-8").splitlines()
    with uow() as u:
        first = import_evidence(u, text, now=NOW)
    assert (first.created, first.updated, first.people_created) == (3, 0, 2)
    assert [(p.line, p.error.split(":")[0]) for p in first.problems] == [
        (2, "Invalid JSON"),
        (5, "text and tags are both empty"),
        (6, "no person with id 987654"),
        (7, "weight"),
        (8, "at"),
    ]
    with uow() as u:
        again = import_evidence(u, text, now=NOW)
    assert (again.created, again.updated, again.people_created) == (0, 3, 0)
    with uow() as u:
        assert u.session.scalar(select(func.count()).select_from(Evidence)) == 3
        ana = u.session.scalar(select(Person).where(on_slack("UANA")))
        assert ana is not None and ana.name == "Ana"
        row = u.session.scalar(select(Evidence).where(Evidence.person_id == ana.id))
        assert row is not None and (row.kind, row.weight, row.tags) == ("built", 2.0, ["nlp"])


def test_import_adds_to_an_existing_person_by_id(uow: UowFactory) -> None:
    with uow() as u:
        p = Person(name="Pat", created_at=NOW)
        u.session.add(p)
        u.commit()
        pid = p.id
    with uow() as u:
        report = import_evidence(
            u, [json.dumps({"person": pid, "text": "Gave a talk on RAG", "kind": "showcase"})], now=NOW
        )
    assert (report.created, report.people_created, report.problems) == (1, 0, [])


@pytest.fixture
def cli_db(engine: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The `hubspoke` command pointed at the test database, with evidence imported through it."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.chdir(tmp_path)  # no stray .env
    assert main(["expertise", "import", str(evidence_file(tmp_path))]) == 0
    return tmp_path


def test_whoknows_batch_prints_one_json_line_per_query_in_order(
    cli_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    batch = cli_db / "queries.txt"
    batch.write_text(
        "time series\n\nnatural language processing\n"
        + json.dumps({"query": "forecasting", "as_of": "2026-07-01T00:00:00Z", "top": 1})
        + "\nquantum annealing\n",
        encoding="utf-8",
    )
    assert main(["whoknows", "--batch", str(batch), "--top", "3"]) == 0
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["line"], r["query"]) for r in out] == [
        (1, "time series"),
        (3, "natural language processing"),
        (4, "forecasting"),
        (5, "quantum annealing"),
    ]
    assert [[e["name"] for e in r["experts"]] for r in out] == [["Ben"], ["Ana"], ["Ben"], []]
    ben = out[0]["experts"][0]
    assert {"person_id", "name", "score", "evidence", "department", "tz", "away"} <= set(ben)
    assert sorted(e["kind"] for e in ben["evidence"]) == ["imported", "showcase"]
    assert out[2]["as_of"].startswith("2026-07-01") and len(out[2]["experts"][0]["evidence"]) == 1  # no showcase yet
    assert out[1]["concepts"] == ["nlp"] and out[1]["single_expert"] is True


def test_whoknows_prints_a_readable_answer_and_json(cli_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["whoknows", "forecasting", "--as-of", "2026-11-01T00:00:00Z"]) == 0
    text = capsys.readouterr().out
    assert "1. Ben" in text and "Showcase: Showcase: forecasting store demand" in text
    assert main(["whoknows", "text", "classification", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert [e["name"] for e in result["experts"]] == ["Ana"] and result["query"] == "text classification"
