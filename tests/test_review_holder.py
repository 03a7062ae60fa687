"""A review assigned to one reviewer is decided by that reviewer or a lead (issue 9, item 11).

Another reviewer's click is told who holds it and how to take it over (a reassignment, then the
decision); a submitter never chooses or changes their own use case's reviewer; a hub that wants
any reviewer to decide says so in its guidelines.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from intake import decisions, guidelines, hub, people, submission
from intake.errors import NotAllowed
from intake.people import SYSTEM
from intake.read_models import Actor
from intake.schema import Decision, Submission
from storage.db import UnitOfWork
from storage.models import AuditEvent, Review
from tests.conftest import NOW
from tests.factories import ANSWERS, slack

PERSONAL = Submission.model_validate({**ANSWERS, "data_sensitivity": "personal"})


def actor(sf: sessionmaker[Session], user_id: str, name: str, lead: bool = False) -> Actor:
    with UnitOfWork(sf) as u:
        leads = frozenset({user_id}) if lead else None
        return people.resolve_actor(u, slack(user_id, name), leads=leads, now=NOW)[0]


@pytest.fixture
def hub_with_two_reviewers(session_factory: sessionmaker[Session]) -> tuple[int, dict[str, Actor]]:
    sf = session_factory
    with UnitOfWork(sf) as u:
        hub.add_department(u, SYSTEM, "Support", now=NOW)
        hub.add_reviewer(u, SYSTEM, slack("URITA", "Rita"), skills=["support"], now=NOW)
        hub.add_reviewer(u, SYSTEM, slack("UOMAR", "Omar"), skills=[], now=NOW)
    who = {name: actor(sf, uid, name) for uid, name in (("URITA", "Rita"), ("UOMAR", "Omar"), ("USAM", "Sam"))}
    who["Lee"] = actor(sf, "ULEE", "Lee", lead=True)
    with UnitOfWork(sf) as u:
        uc = submission.submit_use_case(u, who["Sam"], PERSONAL, now=NOW).use_case
    assert uc.reviewer is not None and uc.reviewer.name == "Rita"  # routed by skill
    return uc.id, who


def decided_by(sf: sessionmaker[Session], use_case_id: int) -> str | None:
    with UnitOfWork(sf) as u:
        review = u.session.scalar(select(Review).where(Review.use_case_id == use_case_id))
        return review.decided_by.name if review and review.decided_by else None


def test_another_reviewer_is_told_who_holds_it_and_how_to_take_it_over(
    session_factory: sessionmaker[Session], hub_with_two_reviewers: tuple[int, dict[str, Actor]]
) -> None:
    sf, (use_case_id, who) = session_factory, hub_with_two_reviewers
    with UnitOfWork(sf) as u, pytest.raises(NotAllowed) as refused:
        decisions.decide(u, who["Omar"], use_case_id, Decision.APPROVE, now=NOW)
    assert refused.value.message == decisions.held_by_someone_else("Rita")
    assert decided_by(sf, use_case_id) is None
    # Taking it over: a reassignment (audited), then the decision.
    with UnitOfWork(sf) as u:
        decisions.assign_reviewer(u, who["Omar"], use_case_id, who["Omar"].person_id, now=NOW)
    with UnitOfWork(sf) as u:
        decisions.decide(u, who["Omar"], use_case_id, Decision.APPROVE, now=NOW)
    assert decided_by(sf, use_case_id) == "Omar"
    with UnitOfWork(sf) as u:
        actions = [e.action for e in u.session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert actions[-2:] == ["assigned", "decision:approve"]


def test_a_lead_decides_whoever_holds_it(
    session_factory: sessionmaker[Session], hub_with_two_reviewers: tuple[int, dict[str, Actor]]
) -> None:
    sf, (use_case_id, who) = session_factory, hub_with_two_reviewers
    with UnitOfWork(sf) as u:
        decisions.decide(u, who["Lee"], use_case_id, Decision.REJECT, reason="Out of scope", now=NOW)
    assert decided_by(sf, use_case_id) == "Lee"


def test_the_guidelines_can_let_any_reviewer_decide(
    session_factory: sessionmaker[Session], hub_with_two_reviewers: tuple[int, dict[str, Actor]]
) -> None:
    sf, (use_case_id, who) = session_factory, hub_with_two_reviewers
    with UnitOfWork(sf) as u:
        guidelines.set_guideline(u, SYSTEM, "any_reviewer_decides", "on", now=NOW)
    with UnitOfWork(sf) as u:
        decisions.decide(u, who["Omar"], use_case_id, Decision.APPROVE, now=NOW)
    assert decided_by(sf, use_case_id) == "Omar"


def test_a_submitter_never_chooses_their_own_reviewer(
    session_factory: sessionmaker[Session], hub_with_two_reviewers: tuple[int, dict[str, Actor]]
) -> None:
    sf, (_, who) = session_factory, hub_with_two_reviewers
    with UnitOfWork(sf) as u:  # Omar, a reviewer himself, submits one of his own
        own = submission.submit_use_case(u, who["Omar"], PERSONAL, now=NOW).use_case
    with UnitOfWork(sf) as u, pytest.raises(NotAllowed, match="someone else in the hub chooses its reviewer"):
        decisions.assign_reviewer(u, who["Omar"], own.id, who["Omar"].person_id, now=NOW)
