"""A review assigned to one reviewer is decided by that reviewer or a lead (issue 9, item 11).

Another reviewer's click is told who holds it and how to take it over (a reassignment, then the
decision); a submitter never chooses or changes their own use case's reviewer; a hub that wants
any reviewer to decide says so in its guidelines.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.core import Core
from bot.settings import Settings
from handlers.console.repl import run_console
from handlers.slack.ids import Action as SlackAction
from intake import decisions, guidelines, hub, people, submission
from intake.errors import NotAllowed
from intake.people import SYSTEM
from intake.read_models import Actor
from intake.schema import Decision, Submission
from storage.db import UnitOfWork, make_engine, make_session_factory, upgrade
from storage.models import AuditEvent, Review
from tests.conftest import NOW, Scenario
from tests.factories import ANSWERS, slack, slack_actor

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


@pytest.fixture
def core_console(tmp_path: Path) -> Iterator[Core]:
    url = f"sqlite:///{tmp_path / 'console.db'}"
    upgrade(url)
    engine = make_engine(url)
    yield Core(settings=Settings(_env_file=None, database_url=url), session_factory=make_session_factory(engine),
               clock=lambda: NOW)
    engine.dispose()


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


def test_on_slack_the_refusal_offers_take_it_over_and_the_click_reassigns_then_the_reviewer_decides(
    scenario: Scenario,
) -> None:
    """Over signed HTTP: Omar's Approve on Rita's review is refused with a Take it over button; his click on it
    hands him the review (audited), and his Approve on his new card decides it."""
    sc = scenario
    core = sc.app.core
    for user_id, name in (("ULEAD", "lee"), ("URITA", "Rita"), ("UOMAR", "Omar"), ("USAM", "Sam")):
        sc.user(user_id, name)  # the fake's profiles, which the bot reads
    lee = slack_actor(core, "ULEAD", "lee")[0]
    core.run(hub.add_department, lee, "Support")
    core.run(hub.add_reviewer, lee, slack("URITA", "Rita"), skills=["support"])
    core.run(hub.add_reviewer, lee, slack("UOMAR", "Omar"), skills=[])
    sam = slack_actor(core, "USAM", "Sam")[0]
    use_case_id = core.run(submission.submit_use_case, sam, PERSONAL).use_case.id
    omar = sc.user("UOMAR", "Omar")

    sc.slack.click(omar, SlackAction.APPROVE, f"{use_case_id}:1")
    assert "Rita holds this review" in sc.api.wait_for_hook("Rita holds this review")
    with sc.api._lock:
        offer = next(c for c in sc.api.calls if c.method.startswith("response_url:") and "holds" in str(c.params))
    blocks = offer.params["blocks"]
    blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
    button = next(e for b in blocks if b["type"] == "actions" for e in b["elements"])
    assert (button["text"]["text"], button["action_id"], button["value"]) == (
        "Take it over", SlackAction.TAKE_OVER, f"{use_case_id}:1"
    )
    assert decided_by(core.session_factory, use_case_id) is None

    sc.slack.click(omar, SlackAction.TAKE_OVER, button["value"])
    sc.api.wait_for_text("chat.postMessage", "Reassigned from Rita to Omar")
    sc.slack.click(omar, SlackAction.APPROVE, f"{use_case_id}:1")
    deadline = time.monotonic() + 10
    while decided_by(core.session_factory, use_case_id) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert decided_by(core.session_factory, use_case_id) == "Omar"
    with UnitOfWork(core.session_factory) as u:
        actions = [e.action for e in u.session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert actions[-2:] == ["assigned", "decision:approve"]


def test_in_the_console_the_refusal_offers_take_it_over(core_console: Core) -> None:
    script = (
        "/hub department add Support\n/hub reviewer add @rita support\n/hub reviewer add @omar\n/as sam\n"
        "/usecase Summarise support tickets\n\nAgents read long threads.\n1\nFaster replies\nhandling time -20%\n"
        "\n1\n3\n1\n1\n\n\n"
        "/as omar\n/usecase status 1\n3\n1\n/usecase status 1\n1\n"
    )
    out = io.StringIO()
    assert run_console(core_console, io.StringIO(script), out, name="lee", interactive=False) == 0
    text = out.getvalue()
    assert "Rita holds this review, so they (or a hub lead) decide it." in text
    assert "[1] Take it over" in text
    assert decided_by(core_console.session_factory, 1) == "Omar"
