"""Many reviewers click Approve on one card at the same moment: exactly one decision is recorded."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from intake import decisions, guidelines, hub, submission
from intake.errors import AlreadyDecided
from intake.notices import card_key
from intake.people import SYSTEM
from intake.read_models import Actor, UseCaseView
from intake.schema import Decision, Submission
from storage.db import UnitOfWork, make_engine, make_session_factory, upgrade
from storage.models import AuditEvent, OutboxMessage, Review
from tests.conftest import NOW, make_actor
from tests.factories import slack


@pytest.fixture
def pg_engine(pg_url: str) -> Iterator[Engine]:
    upgrade(pg_url)
    engine = make_engine(pg_url, pool_size=25, max_overflow=5)
    yield engine
    engine.dispose()


@pytest.fixture
def sqlite_engine(sqlite_url: str) -> Iterator[Engine]:
    upgrade(sqlite_url)
    engine = make_engine(sqlite_url, pool_size=10)
    yield engine
    engine.dispose()


def open_review(sf: sessionmaker[Session], reviewers: int) -> tuple[UseCaseView, list[Actor]]:
    """A use case waiting in review, and `reviewers` reviewers who could decide it (the hub lets any reviewer)."""
    with UnitOfWork(sf) as u:
        guidelines.set_guideline(u, SYSTEM, "any_reviewer_decides", "on", now=NOW)
    for i in range(reviewers):
        with UnitOfWork(sf) as u:
            hub.add_reviewer(u, SYSTEM, slack(f"UREV{i:02d}", f"Reviewer {i:02d}"), skills=[], now=NOW)
    actors = [make_actor(sf, f"UREV{i:02d}", f"Reviewer {i:02d}") for i in range(reviewers)]
    spoke = make_actor(sf, "USAM", "Sam")
    sub = Submission.model_validate(
        {
            "title": "Forecast demand for stores",
            "problem": "Store managers over-order fresh food every week.",
            "department": "Finance",
            "benefit": "Less food waste",
            "success_metric": "food waste -15%",
            "data_availability": "available",
            "data_sensitivity": "personal",  # medium risk: hub review
            "people_affected": "internal",
            "autonomy": "assistive",
        }
    )
    with UnitOfWork(sf) as u:
        uc = submission.submit_use_case(u, spoke, sub, now=NOW).use_case
    assert uc.review is not None and uc.review.decision is None
    return uc, actors


@dataclass
class Race:
    wins: list[UseCaseView]
    losses: list[AlreadyDecided]
    other: list[BaseException]


def race(sf: sessionmaker[Session], uc_id: int, clickers: list[Actor]) -> Race:
    """Every clicker approves at once (released together by a barrier), each in its own transaction."""
    barrier = threading.Barrier(len(clickers))
    lock = threading.Lock()
    result = Race([], [], [])

    def click(actor: Actor) -> None:
        try:
            barrier.wait(timeout=30)
            with UnitOfWork(sf) as u:
                view = decisions.decide(u, actor, uc_id, Decision.APPROVE, now=NOW)
            with lock:
                result.wins.append(view)
        except AlreadyDecided as lost:
            with lock:
                result.losses.append(lost)
        except BaseException as error:
            with lock:
                result.other.append(error)

    threads = [threading.Thread(target=click, args=(actor,)) for actor in clickers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a click never finished"
    return result


def assert_decided_once(sf: sessionmaker[Session], uc: UseCaseView, clicks: int, result: Race) -> None:
    assert result.other == []
    assert len(result.wins) == 1
    assert len(result.losses) == clicks - 1
    winner = result.wins[0].review
    assert winner is not None and winner.decided_by is not None
    assert {lost.message for lost in result.losses} == {f"{winner.decided_by.name} already approved this one."}
    assert {lost.decided_at for lost in result.losses} == {NOW}

    with sf() as s:
        decided = s.execute(
            select(Review.decided_by_id).where(Review.use_case_id == uc.id, Review.decision.is_not(None))
        ).all()
        assert decided == [(winner.decided_by.id,)]
        events = s.scalars(select(AuditEvent.actor_id).where(AuditEvent.action == "decision:approve")).all()
        assert events == [winner.decided_by.id]
        updates = s.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.operation == "update", OutboxMessage.ref_key == card_key(uc.id, 1))
        )
        assert updates == 1
        outcomes = s.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.payload["kind"].as_string() == "outcome")
        )
        assert outcomes == 1


@pytest.mark.postgres
@pytest.mark.parametrize("same_reviewer", [False, True], ids=["twenty-reviewers", "one-reviewer-twenty-clicks"])
def test_twenty_simultaneous_approvals_on_postgres_record_one(pg_engine: Engine, same_reviewer: bool) -> None:
    sf = make_session_factory(pg_engine)
    uc, reviewers = open_review(sf, 20)
    clickers = [reviewers[0]] * 20 if same_reviewer else reviewers

    result = race(sf, uc.id, clickers)

    assert_decided_once(sf, uc, 20, result)


@pytest.mark.parametrize("same_reviewer", [False, True], ids=["eight-reviewers", "one-reviewer-eight-clicks"])
def test_eight_simultaneous_approvals_on_sqlite_record_one(sqlite_engine: Engine, same_reviewer: bool) -> None:
    sf = make_session_factory(sqlite_engine)
    uc, reviewers = open_review(sf, 8)
    clickers = [reviewers[0]] * 8 if same_reviewer else reviewers

    result = race(sf, uc.id, clickers)

    assert_decided_once(sf, uc, 8, result)
