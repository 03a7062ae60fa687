"""Who knows X: ranking on small hand-made evidence, on SQLite (FTS5) and PostgreSQL (tsvector)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from alembic import command
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from bot.expertise.ask import ask_who_knows
from bot.expertise.index import ExpertiseIndex
from bot.expertise.models import ExpertResult, Freshness
from handlers.console.whoknows import render_experts
from storage import evidence
from storage.db import UnitOfWork, alembic_config, upgrade
from storage.models import Department, ExpertAsk, Identity, Person
from tests.conftest import NOW, make_actor

UowFactory = Callable[[], UnitOfWork]
DAY = dt.timedelta(days=1)


def person(uow: UowFactory, name: str, **fields: object) -> int:
    with uow() as u:
        slack = Identity(platform="slack", external_id=f"U{name.upper()}")
        p = Person(name=name, created_at=NOW, identities=[slack], **fields)
        u.session.add(p)
        u.commit()
        return p.id


def fact(
    uow: UowFactory, pid: int, kind: str, text: str, *, tags: tuple[str, ...] = (), age_days: float = 10, key: str = ""
) -> None:
    with uow() as u:
        evidence.record(
            u.session,
            person_id=pid,
            kind=kind,
            text=text,
            tags=tags,
            source_key=key or f"t:{pid}:{kind}:{text}:{age_days}",
            at=NOW - age_days * DAY,
        )
        u.commit()


def ask(uow: UowFactory, query: str, *, top: int = 5, offset: int = 0, record: bool = False) -> ExpertResult:
    with uow() as u:
        return ExpertiseIndex().find_experts(u, query, top=top, offset=offset, record_asks=record, now=NOW)


def names(result: ExpertResult) -> list[str]:
    return [e.name for e in result.experts]


def test_doing_it_beats_saying_so_and_the_reasons_are_shown(uow: UowFactory) -> None:
    ana = person(uow, "Ana")
    ben = person(uow, "Ben")
    fact(uow, ana, "declared_skill", "forecasting", tags=("forecasting",))
    fact(uow, ben, "built", "Weekly demand forecasting for 300 stores", tags=("Retail",))
    result = ask(uow, "forecasting")
    assert names(result) == ["Ben", "Ana"]
    ben_row, ana_row = result.experts
    assert (ben_row.rank, ben_row.person_id, ben_row.kinds) == (1, ben, {"built": 1})
    assert ben_row.evidence[0].label == "Built: Weekly demand forecasting for 300 stores"
    assert ana_row.evidence[0].label == "Declared skill: forecasting"
    assert ben_row.score > ana_row.score > 0
    assert result.total == 2 and result.next_offset is None


def test_recent_evidence_outranks_old_and_freshness_says_how_old(uow: UowFactory) -> None:
    old = person(uow, "Olga")
    new = person(uow, "Nils")
    fact(uow, old, "submitted", "Anomaly detection on card payments", age_days=3 * 365)
    fact(uow, new, "submitted", "Anomaly detection on card payments", age_days=20)
    result = ask(uow, "anomaly detection")
    assert names(result) == ["Nils", "Olga"]
    assert [e.freshness for e in result.experts] == [Freshness.FRESH, Freshness.STALE]
    assert result.experts[1].evidence[0].age_days == 3 * 365


def test_evidence_after_the_time_asked_does_not_count(uow: UowFactory) -> None:
    pid = person(uow, "Futura")
    fact(uow, pid, "showcase", "Route optimisation showcase", age_days=-5)
    assert ask(uow, "route optimisation").experts == []


def test_taxonomy_synonyms_find_the_nlp_person(uow: UowFactory) -> None:
    nina = person(uow, "Nina")
    other = person(uow, "Otto")
    fact(uow, nina, "built", "NLP triage of support tickets", tags=("nlp",))
    fact(uow, other, "built", "Invoice matching rules")
    result = ask(uow, "natural language processing")
    assert names(result) == ["Nina"]
    assert "nlp" in result.concepts and "nlp" in result.expanded_terms
    assert ask(uow, "Who knows LLMs?").concepts == ["llm"]


@pytest.mark.parametrize(("short", "long"), [("nlp", "natural language processing"), ("LLMs", "large language models")])
def test_an_abbreviation_and_its_expansion_get_the_same_answer(
    uow: UowFactory, session_factory: sessionmaker[Session], short: str, long: str
) -> None:
    for name, kind, said, tags in [
        ("Nina", "built", "NLP triage of support tickets", ("nlp",)),
        ("Pete", "submitted", "Natural language processing of claims letters", ()),
        ("Tom", "reviewed", "Text mining of survey answers", ()),
        ("Lu", "declared_skill", "language processing", ("language processing",)),
        ("Ivo", "built", "Invoice processing with OCR", ()),
        ("Lars", "built", "LLM assistant for HR questions", ("llm",)),
        ("Gina", "submitted", "Large language models for contract review", ()),
        ("Mo", "submitted", "Sign language videos for the website", ()),
    ]:
        fact(uow, person(uow, name), kind, said, tags=tags)
    ada = make_actor(session_factory, "UADA", "Ada")

    def answer(query: str) -> tuple[list[tuple[str, int, dict[str, int], list[float]]], list[str]]:
        with uow() as u:
            result = ask_who_knows(u, ExpertiseIndex(), ada, query, now=NOW)
        people = [(e.name, e.rank, e.kinds, [round(v.score, 6) for v in e.evidence]) for e in result.experts]
        lines = render_experts(result, NOW).lines
        return people, [line for line in lines if line[:1].isdigit() or line.startswith("   - ")]

    short_people, short_lines = answer(short)
    long_people, long_lines = answer(long)
    assert short_people and short_people == long_people
    assert short_lines == long_lines


def test_people_asked_a_lot_recently_make_room_for_someone_else(uow: UowFactory) -> None:
    star = person(uow, "Star")
    quinn = person(uow, "Quinn")
    fact(uow, star, "built", "Churn prediction model", age_days=5)
    fact(uow, star, "reviewed", "Churn prediction for telecom", age_days=6)
    fact(uow, quinn, "submitted", "Churn prediction idea", age_days=30)
    assert names(ask(uow, "churn prediction", top=1)) == ["Star"]
    for _ in range(3):  # each answer records who it showed; after two asks, Star is a usual name
        ask(uow, "churn prediction", top=1, record=True)
    with uow() as u:
        assert u.session.scalars(select(ExpertAsk.person_id).order_by(ExpertAsk.id)).all() == [star, star, quinn]
    result = ask(uow, "churn prediction", top=1)
    assert names(result) == ["Quinn"] and result.experts[0].spread_pick
    both = ask(uow, "churn prediction", top=2)
    assert names(both) == ["Star", "Quinn"]
    assert [e.recent_asks for e in both.experts] == [2, 1] and not both.experts[1].spread_pick


def test_a_topic_with_one_expert_says_so(uow: UowFactory) -> None:
    gil = person(uow, "Gil")
    fact(uow, gil, "built", "Flood risk model for river catchments")
    fact(uow, gil, "retro", "What we learned building the flood model")
    lone = ask(uow, "flood risk")
    assert (lone.bus_factor, lone.single_expert) == (1, True)
    hana = person(uow, "Hana")
    fact(uow, hana, "built", "Flood risk pricing for insurance")
    shared = ask(uow, "flood risk")
    assert shared.bus_factor == 2 and not shared.single_expert
    nobody = ask(uow, "quantum annealing")
    assert (nobody.experts, nobody.bus_factor, nobody.single_expert) == ([], 0, False)


def test_department_time_zone_and_away_are_in_the_answer(uow: UowFactory) -> None:
    with uow() as u:
        dept = Department(name="Finance", key="finance", created_at=NOW)
        u.session.add(dept)
        u.commit()
        dept_id = dept.id
    pid = person(uow, "Tess", tz="Europe/Berlin", away=True, department_id=dept_id)
    fact(uow, pid, "built", "Speech recognition for the call centre")
    expert = ask(uow, "speech to text").experts[0]
    assert (expert.name, expert.department, expert.tz, expert.away) == ("Tess", "Finance", "Europe/Berlin", True)
    assert expert.handles == {"slack": "UTESS"}


def test_show_more_pages_through_everyone(uow: UowFactory) -> None:
    for i, name in enumerate(["Abe", "Bea", "Cy"]):
        pid = person(uow, name)
        for n in range(3 - i):
            fact(uow, pid, "submitted", f"Recommender system number {n}")
    first = ask(uow, "recommender", top=2)
    assert names(first) == ["Abe", "Bea"] and first.next_offset == 2 and first.total == 3
    more = ask(uow, "recommender", top=2, offset=2)
    assert names(more) == ["Cy"] and more.experts[0].rank == 3 and more.next_offset is None


def test_edits_and_deletes_reach_the_search_index(uow: UowFactory) -> None:
    pid = person(uow, "Eve")
    fact(uow, pid, "retro", "Kubernetes migration retro", key="k")
    assert names(ask(uow, "kubernetes")) == ["Eve"]
    fact(uow, pid, "retro", "Terraform migration retro", key="k")  # same source key: updated in place
    assert ask(uow, "kubernetes").experts == [] and names(ask(uow, "terraform")) == ["Eve"]
    with uow() as u:
        u.session.delete(u.session.get(Person, pid))
        u.commit()
    assert ask(uow, "terraform").experts == []


@pytest.mark.parametrize("query", ["", "   "])
def test_an_empty_question_is_refused(uow: UowFactory, query: str) -> None:
    from intake.errors import HubError

    with pytest.raises(HubError, match="Say what you need"):
        ask(uow, query)


def test_migration_0003_creates_the_search_index_and_0002_removes_it(engine: Engine, database_url: str) -> None:
    def objects() -> set[str]:
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                rows = conn.execute(text("SELECT name FROM sqlite_master WHERE name LIKE 'evidence_fts%'"))
            else:
                rows = conn.execute(
                    text(
                        "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
                        "AND table_name = 'evidence' AND column_name = 'search_vector' UNION "
                        "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() "
                        "AND indexname = 'ix_evidence_search_vector'"
                    )
                )
            return {r[0] for r in rows}

    expected = {"evidence_fts", "evidence_fts_ai", "evidence_fts_ad", "evidence_fts_au"}
    if engine.dialect.name != "sqlite":
        expected = {"search_vector", "ix_evidence_search_vector"}
    assert expected <= objects()
    command.downgrade(alembic_config(database_url), "0002")
    assert objects() == set()
    upgrade(database_url)
    assert expected <= objects()
