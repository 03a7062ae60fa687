"""Stage moves are told: the hub hears a use case reach production engineering and deployment, and an owner hears
when a lead moved theirs (issue 9, item 14)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session, sessionmaker

from bot.chat import FakeChat
from bot.outbox import deliver_due
from handlers.console.render import render_notice
from handlers.slack.chat import render as slack_render
from intake import decisions, hub, people, stages, submission
from intake.notices import HUB, StageMoved
from intake.people import SYSTEM
from intake.schema import Decision, Stage, Submission
from storage.db import UnitOfWork
from tests.conftest import NOW
from tests.factories import ANSWERS, slack


def test_the_hub_and_the_owner_hear_the_moves_that_matter(session_factory: sessionmaker[Session]) -> None:
    sf = session_factory
    chat = FakeChat()
    with UnitOfWork(sf) as u:
        hub.add_department(u, SYSTEM, "Support", now=NOW)
        hub.add_reviewer(u, SYSTEM, slack("UREV", "Rita"), skills=[], now=NOW)
    with UnitOfWork(sf) as u:
        sam = people.resolve_actor(u, slack("USAM", "Sam"), now=NOW)[0]
    with UnitOfWork(sf) as u:
        lee = people.resolve_actor(u, slack("ULEE", "Lee"), leads=frozenset({"ULEE"}), now=NOW)[0]
    with UnitOfWork(sf) as u:
        uc = submission.submit_use_case(
            u, sam, Submission.model_validate({**ANSWERS, "data_sensitivity": "personal"}), now=NOW
        ).use_case
    with UnitOfWork(sf) as u:
        decisions.decide(u, lee, uc.id, Decision.APPROVE, now=NOW)
    deliver_due(sf, chat, now=NOW)
    chat.transcript.clear()

    later = NOW + dt.timedelta(days=3)
    for actor, target in ((sam, Stage.EXPERIMENTATION), (sam, Stage.PRODUCTION_ENGINEERING), (lee, Stage.DEPLOYMENT)):
        with UnitOfWork(sf) as u:
            stages.move_stage(u, actor, uc.id, target, now=later)
    deliver_due(sf, chat, now=later)

    told = [(s.destination, s.notice) for s in chat.transcript if isinstance(s.notice, StageMoved)]
    assert [(where, n.use_case.stage, n.moved_by.name) for where, n in told] == [
        (HUB, Stage.PRODUCTION_ENGINEERING, "Sam"),  # experimentation is not news for the hub
        (HUB, Stage.DEPLOYMENT, "Lee"),
        ("dm:Sam", Stage.DEPLOYMENT, "Lee"),  # the owner hears that a lead moved it; not their own moves
    ]
    notice = told[-1][1]
    text, _ = slack_render(notice)
    assert text == f"#{uc.id} {uc.title} is now in deployment"
    assert render_notice(notice).text().startswith(
        f"#{uc.id} {uc.title} moved from production engineering to deployment, by Lee."
    )
