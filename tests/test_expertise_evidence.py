"""Evidence accumulates from what happens in the hub: submit, decide, stage moves, declared skills."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from bot.expertise import skills
from bot.expertise.index import ExpertiseIndex
from intake import decisions, hub, stages, submission
from intake.errors import NotAllowed, NotFound
from intake.people import SYSTEM
from intake.read_models import Actor
from intake.schema import Decision, Stage
from storage import evidence
from storage.db import UnitOfWork
from storage.models import Evidence, Person
from tests.conftest import NOW, make_actor
from tests.factories import slack
from tests.test_services import SELF_SERVE, answers

UowFactory = Callable[[], UnitOfWork]
LATER = NOW + dt.timedelta(hours=2)


def rows(uow: UowFactory) -> list[tuple[str, int, int | None, str]]:
    """(kind, person, use case, source key) of every evidence row, in key order."""
    with uow() as u:
        found = u.session.scalars(select(Evidence).order_by(Evidence.source_key))
        return [(e.kind, e.person_id, e.use_case_id, e.source_key or "") for e in found]


@pytest.fixture
def rita(uow: UowFactory, session_factory: sessionmaker[Session]) -> Actor:
    with uow() as u:
        hub.add_reviewer(u, SYSTEM, slack("URITA", "Rita"), skills=["demand forecasting", "NLP"], now=NOW)
    return make_actor(session_factory, "URITA", "Rita")


def test_submit_decide_and_build_each_leave_evidence(
    uow: UowFactory, session_factory: sessionmaker[Session], rita: Actor
) -> None:
    sam = make_actor(session_factory, "USAM", "Sam")
    with uow() as u:
        uc = submission.submit_use_case(u, sam, answers(), now=NOW).use_case
    assert ("submitted", sam.person_id, uc.id, f"uc:{uc.id}:submitted:{sam.person_id}") in rows(uow)
    with uow() as u:
        decisions.decide(u, rita, uc.id, Decision.APPROVE, now=LATER)
    assert ("reviewed", rita.person_id, uc.id, f"uc:{uc.id}:reviewed:{rita.person_id}") in rows(uow)
    with uow() as u:
        stages.move_stage(u, sam, uc.id, Stage.EXPERIMENTATION, now=LATER)
    assert not [r for r in rows(uow) if r[0] == "built"]  # experimenting is not building yet
    with uow() as u:
        stages.move_stage(u, sam, uc.id, Stage.PRODUCTION_ENGINEERING, now=LATER)
    assert ("built", sam.person_id, uc.id, f"uc:{uc.id}:built:{sam.person_id}") in rows(uow)

    with uow() as u:
        result = ExpertiseIndex().find_experts(u, "forecast demand", record_asks=False, now=LATER)
    by_name = {e.name: e for e in result.experts}
    assert by_name["Sam"].kinds == {"submitted": 1, "built": 1}
    assert by_name["Sam"].evidence[0].label == f"Built use case #{uc.id}: Forecast demand for stores"
    assert by_name["Sam"].department == "Finance"  # from the use case: Sam has no department of his own
    assert "declared_skill" in by_name["Rita"].kinds
    assert [r.id for r in result.related_use_cases] == [uc.id]


def test_resubmitting_updates_evidence_instead_of_duplicating(
    uow: UowFactory, session_factory: sessionmaker[Session], rita: Actor
) -> None:
    sam = make_actor(session_factory, "USAM", "Sam")
    with uow() as u:
        uc = submission.submit_use_case(u, sam, answers(), now=NOW).use_case
    with uow() as u:
        decisions.decide(u, rita, uc.id, Decision.REQUEST_CHANGES, reason="Name the stores", now=LATER)
    with uow() as u:
        submission.resubmit_use_case(u, sam, uc.id, answers(problem="Fifty stores over-order bread."), now=LATER)
    submitted = [r for r in rows(uow) if r[0] == "submitted"]
    assert len(submitted) == 1
    with uow() as u:
        row = u.session.scalar(select(Evidence).where(Evidence.kind == "submitted"))
        assert row is not None and "Fifty stores" in row.text and row.at == LATER


def test_rederiving_is_idempotent(uow: UowFactory, session_factory: sessionmaker[Session], rita: Actor) -> None:
    sam = make_actor(session_factory, "USAM", "Sam")
    with uow() as u:
        submission.submit_use_case(u, sam, answers(**SELF_SERVE), now=NOW)
    before = rows(uow)
    for _ in range(2):
        with uow() as u:
            evidence.rederive(u.session, LATER)
            u.commit()
    assert rows(uow) == before


def test_rederiving_skips_use_cases_nobody_can_be_asked_about(uow: UowFactory) -> None:
    with uow() as u:
        stand_in = Person(name="register import", created_at=NOW)  # no platform identity
        u.session.add(stand_in)
        u.commit()
    importer = Actor(stand_in.id, stand_in.name, is_reviewer=False, is_lead=False)
    with uow() as u:
        submission.submit_use_case(u, importer, answers(**SELF_SERVE), now=NOW)
    with uow() as u:
        u.session.execute(delete(Evidence))
        evidence.rederive(u.session, LATER)
        u.commit()
    assert rows(uow) == []


def test_declared_skills_are_evidence_and_follow_add_and_remove(
    uow: UowFactory, session_factory: sessionmaker[Session], rita: Actor
) -> None:
    declared = [r[3] for r in rows(uow) if r[0] == "declared_skill"]
    assert declared == [f"skill:{rita.person_id}:demand forecasting", f"skill:{rita.person_id}:nlp"]
    with uow() as u:
        view = skills.add_skills(u, rita, skills.parse_skills("Computer  Vision, nlp"), now=LATER)
    assert (view.skills, view.added) == (["computer vision", "demand forecasting", "nlp"], ["computer vision"])
    with uow() as u:
        view = skills.remove_skills(u, rita, ["NLP"], now=LATER)
    assert view.removed == ["nlp"]
    keys = [r[3] for r in rows(uow) if r[0] == "declared_skill"]
    assert keys == [f"skill:{rita.person_id}:computer vision", f"skill:{rita.person_id}:demand forecasting"]
    with uow() as u:
        assert skills.list_skills(u, rita).skills == ["computer vision", "demand forecasting"]


def test_only_leads_change_other_peoples_skills(
    uow: UowFactory, session_factory: sessionmaker[Session], rita: Actor
) -> None:
    sam = make_actor(session_factory, "USAM", "Sam")
    lead = make_actor(session_factory, "ULEAD", "Lee")
    with uow() as u, pytest.raises(NotAllowed):
        skills.add_skills(u, sam, ["ocr"], target=slack("URITA"), now=NOW)
    with uow() as u:
        view = skills.add_skills(u, lead, ["ocr"], target=slack("UNEW"), now=NOW)
    assert (view.handles, view.skills) == ({"slack": "UNEW"}, ["ocr"])
    with uow() as u, pytest.raises(NotFound):
        skills.remove_skills(u, lead, ["ocr"], target=slack("UNOBODY"), now=NOW)
    with uow() as u:
        assert skills.list_skills(u, sam, target=slack("UNEW")).skills == ["ocr"]
