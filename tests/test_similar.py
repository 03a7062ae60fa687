"""Duplicates across departments: `intake.similar` and `hubspoke similar`, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from bot.cli import main
from intake.similar import LIKELY_DUPLICATE, LexicalSimilarity, SimilarUseCase, title_similarity
from storage.db import UnitOfWork
from storage.models import Department, Person, UseCase
from storage.usecase_search import query_terms, use_case_search_for
from tests.conftest import NOW

UowFactory = Callable[[], UnitOfWork]

# (title, problem, department, extra fields): the hub's register before the new submission arrives.
REGISTER: list[tuple[str, str, str, dict[str, Any]]] = [
    (
        "Invoice routing assistant",
        "Incoming supplier invoices are read by a model that extracts the vendor, amount and cost centre, "
        "then sent to the right approver instead of waiting in a shared mailbox.",
        "Finance",
        {"benefit": "Invoices paid on time", "data_sources": "ERP accounts payable history"},
    ),
    (
        "Forecast call volumes",
        "Predict the number of calls per hour so the contact centre can plan shifts a week ahead.",
        "Support",
        {"benefit": "Right staffing", "data_sources": "telephony logs"},
    ),
    (
        "Summarise support tickets",
        "Agents spend hours reading long ticket threads before they can answer a customer.",
        "Support",
        {"benefit": "Faster replies"},
    ),
    (
        "Contract clause search",
        "Lawyers look for indemnity and liability clauses across thousands of signed contracts by hand.",
        "Legal",
        {"data_sources": "contract repository"},
    ),
    (
        "Mobile Fortify",
        "Field officers photograph a person and compare the face with a watch list on the device.",
        "Border Security",
        {"topic_area": "Law enforcement"},
    ),
    (
        "Payroll anomaly alerts",
        "Flag unusual payroll payments (duplicates, overtime spikes) for the payroll team to check before the run.",
        "HR",
        {},
    ),
    (
        "Vendor invoice matching",
        "Match every invoice to its purchase order and goods receipt automatically; exceptions go to a clerk.",
        "Procurement",
        {"benefit": "Fewer late payment penalties"},
    ),
]

# A new submission from another department, worded differently from "Invoice routing assistant".
NEW_TITLE = "Automatic invoice routing"
NEW_PROBLEM = (
    "Our team forwards every supplier invoice by hand; we want AI to read the vendor and amount and route "
    "each invoice to its approver."
)


def seed(uow: UowFactory, rows: list[tuple[str, str, str, dict[str, Any]]] = REGISTER) -> dict[str, int]:
    """The use cases, their departments and one owner; title -> id."""
    with uow() as u:
        owner = Person(name="Olu", created_at=NOW)
        u.session.add(owner)
        depts: dict[str, Department] = {}
        cases = []
        for i, (title, problem, dept, extra) in enumerate(rows):
            if dept not in depts:
                depts[dept] = Department(name=dept, key=dept.casefold(), created_at=NOW)
                u.session.add(depts[dept])
            fields = {"status": "approved", "stage": "experimentation", **extra}
            uc = UseCase(
                title=title,
                problem=problem,
                department=depts[dept],
                submitter=owner,
                source_id=f"REG-{i + 1}",
                data_availability="available",
                data_sensitivity="internal",
                people_affected="internal",
                autonomy="assistive",
                risk_tier="low",
                route="self_serve",
                created_at=NOW,
                updated_at=NOW,
                **fields,
            )
            u.session.add(uc)
            cases.append(uc)
        u.commit()
        return {uc.title: uc.id for uc in cases}


def similar(uow: UowFactory, text: str, **kwargs: Any) -> list[SimilarUseCase]:
    with uow() as u:
        return LexicalSimilarity().similar(u, text, **kwargs)


def titles(matches: list[SimilarUseCase]) -> list[str]:
    return [m.title for m in matches]


def test_a_differently_worded_submission_finds_its_duplicate_first(uow: UowFactory) -> None:
    ids = seed(uow)
    found = similar(uow, NEW_PROBLEM, title=NEW_TITLE, other_departments_than="Accounts Payable")
    top = found[0]
    assert (top.id, top.title, top.department, top.source_id) == (
        ids["Invoice routing assistant"],
        "Invoice routing assistant",
        "Finance",
        "REG-1",
    )
    assert (top.stage, top.status, top.owner_name, top.closed) == ("experimentation", "approved", "Olu", False)
    assert top.likely_duplicate and top.score >= LIKELY_DUPLICATE
    # Why: the words both share, rarest in the hub first (at most six).
    assert {"routing", "approver"} <= set(top.why) and len(top.why) == 6
    assert set(top.why) <= {"invoice", "routing", "vendor", "approver", "amount", "supplier", "read", "route"}
    # The other invoice use case is related: second, not flagged; the rest share a word or two, and score low.
    assert found[1].title == "Vendor invoice matching" and not found[1].likely_duplicate
    assert top.score - found[1].score > 0.15 and all(m.score < 0.3 for m in found[2:])
    assert all(0.0 <= m.score <= 1.0 for m in found)
    assert [m.score for m in found] == sorted((m.score for m in found), reverse=True)


def test_a_description_alone_still_ranks_the_duplicate_first(uow: UowFactory) -> None:
    seed(uow)
    assert titles(similar(uow, NEW_PROBLEM, top=1)) == ["Invoice routing assistant"]


def test_a_short_title_finds_the_same_name_first(uow: UowFactory) -> None:
    seed(uow)
    found = similar(uow, "mobile fortify")
    assert found[0].title == "Mobile Fortify" and found[0].likely_duplicate
    assert title_similarity("Mobile Fortify", "mobile fortify") == 1.0
    # token_set_ratio alone scores a subset 1.0; the same name still ranks above a longer title containing it
    assert title_similarity("Chatbot", "Chatbot") > title_similarity("Chatbot", "HR Chatbot") > 0.5


def test_other_departments_only_and_itself_excluded(uow: UowFactory) -> None:
    ids = seed(uow)
    everywhere = similar(uow, NEW_PROBLEM, title=NEW_TITLE)
    assert everywhere[0].department == "Finance"
    elsewhere = similar(uow, NEW_PROBLEM, title=NEW_TITLE, other_departments_than=" finance ")
    assert "Finance" not in {m.department for m in elsewhere}
    assert elsewhere[0].title == "Vendor invoice matching"

    own = REGISTER[1]
    itself = similar(uow, own[1], title=own[0])
    assert itself[0].id == ids[own[0]] and itself[0].score > 0.95
    others = similar(uow, own[1], title=own[0], exclude_id=ids[own[0]])
    assert ids[own[0]] not in {m.id for m in others}
    assert similar(uow, NEW_PROBLEM, title=NEW_TITLE, top=2) == everywhere[:2]


def test_edits_and_deletes_reach_the_index(uow: UowFactory) -> None:
    ids = seed(uow)
    assert titles(similar(uow, "indemnity clauses", top=1)) == ["Contract clause search"]
    with uow() as u:
        uc = u.session.get(UseCase, ids["Contract clause search"])
        assert uc is not None
        uc.title = "Lease renewal reminders"
        uc.problem = "Remind property managers months before a lease expires so renewals are negotiated."
        u.commit()
    assert similar(uow, "indemnity clauses") == []
    assert titles(similar(uow, "lease renewal reminders", top=1)) == ["Lease renewal reminders"]
    with uow() as u:
        u.session.delete(u.session.get(UseCase, ids["Contract clause search"]))
        u.commit()
    assert similar(uow, "lease renewal reminders property managers") == []
    with uow() as u:  # the backend itself no longer counts or returns the deleted row
        search = use_case_search_for(u.session)
        rows, dfs = search.frequencies(u.session, ["lease", "invoice"])
        assert (rows, dfs) == (len(REGISTER) - 1, {"lease": 0, "invoice": 2})
        assert search.candidates(u.session, ["lease"], limit=5) == []


def test_the_title_weighs_more_than_the_rest(uow: UowFactory) -> None:
    ids = seed(uow)
    with uow() as u:
        search = use_case_search_for(u.session)
        # "payroll" is in one title; "payment" (porter/english stem "payment") in a benefit and a problem.
        found = search.candidates(u.session, ["payroll", "payment"], limit=5)
        assert found[0].use_case_id == ids["Payroll anomaly alerts"]
        title_only = search.candidates(u.session, ["invoice"], limit=5, title_only=True)
        assert {c.use_case_id for c in title_only} == {ids["Invoice routing assistant"], ids["Vendor invoice matching"]}


def test_closed_and_rejected_use_cases_are_included_and_flagged(uow: UowFactory) -> None:
    ids = seed(uow)
    with uow() as u:
        uc = u.session.get(UseCase, ids["Invoice routing assistant"])
        assert uc is not None
        uc.status = "rejected"
        u.commit()
    top = similar(uow, NEW_PROBLEM, title=NEW_TITLE)[0]
    assert (top.title, top.status, top.closed) == ("Invoice routing assistant", "rejected", True)
    assert top.likely_duplicate  # ranked like any other: the hub's earlier "no" is worth seeing


def test_nothing_to_match_gives_nothing(uow: UowFactory) -> None:
    seed(uow)
    assert similar(uow, "") == [] and similar(uow, "the and of") == []
    assert similar(uow, "quantum annealing spectroscopy") == []
    assert query_terms("The AI's e-mail, E-MAIL and a_b!") == ["ai", "mail"]


# --- the CLI -------------------------------------------------------------------------------------


@pytest.fixture
def cli_db(engine: Engine, database_url: str, uow: UowFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The `hubspoke` command pointed at the seeded test database."""
    seed(uow)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.chdir(tmp_path)  # no stray .env
    return tmp_path


def test_cli_json_rows_carry_register_ids(cli_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["similar", NEW_PROBLEM, "--title", NEW_TITLE, "--top", "2", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["title"], r["department"], r["source_id"]) for r in rows] == [
        ("Invoice routing assistant", "Finance", "REG-1"),
        ("Vendor invoice matching", "Procurement", "REG-7"),
    ]
    assert {"id", "source_id", "title", "department", "score"} <= set(rows[0])
    assert rows[0]["likely_duplicate"] is True and rows[0]["score"] > rows[1]["score"]


def test_cli_batch_prints_one_json_line_per_text_in_order(cli_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    batch = cli_db / "texts.txt"
    batch.write_text("mobile fortify\n\nforecast call volumes for shifts\nquantum annealing\n", encoding="utf-8")
    assert main(["similar", "--batch", str(batch), "--top", "1"]) == 0
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["text"] for r in out] == ["mobile fortify", "forecast call volumes for shifts", "quantum annealing"]
    assert [[m["title"] for m in r["matches"]] for r in out] == [["Mobile Fortify"], ["Forecast call volumes"], []]
    assert out[0]["matches"][0]["source_id"] == "REG-5"


def test_cli_table_is_readable(cli_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["similar", "invoice", "routing", "--top", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["id", "department", "stage", "score", "title"]
    first = lines[1].split(maxsplit=4)
    assert first[1:3] == ["Finance", "experimentation"] and first[4] == "Invoice routing assistant"
    assert first[3].endswith("*") and lines[-1].startswith("* likely duplicate")
    assert len(lines) == 4


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["similar"], 'say what to compare: hubspoke similar "TEXT"'),
        (["similar", "   "], 'say what to compare: hubspoke similar "TEXT"'),
        (["similar", "--batch", "missing.txt"], "no such file: missing.txt"),
        (["similar", "x", "--batch", "missing.txt"], "give a text or --batch FILE, not both"),
        (["similar", "invoices", "--top", "0"], "--top must be 1 or more"),
    ],
)
def test_cli_errors_are_one_line_and_exit_2(
    cli_db: Path, capsys: pytest.CaptureFixture[str], args: list[str], said: str
) -> None:
    assert main(args) == 2
    captured = capsys.readouterr()
    assert captured.err == f"hubspoke: {said}\n" and captured.out == ""


def test_the_migration_backfills_use_cases_already_there(uow: UowFactory) -> None:
    """Rows written before migration 0006 are searchable after it (the index is rebuilt, or generated)."""
    ids = seed(uow)
    with uow() as u:
        bind = u.session.get_bind()
        dialect = bind.dialect.name
    from alembic import command

    from storage.db import alembic_config, upgrade

    url = bind.engine.url.render_as_string(hide_password=False)  # type: ignore[union-attr]
    command.downgrade(alembic_config(url), "0005")
    upgrade(url)
    with uow() as u:
        assert u.session.scalar(select(UseCase.id).where(UseCase.title == "Mobile Fortify")) == ids["Mobile Fortify"]
    assert titles(similar(uow, "mobile fortify", top=1)) == ["Mobile Fortify"], dialect
