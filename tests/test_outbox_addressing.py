"""A platform-aware outbox: messages go to people and to the hub, and reach them on the platform they are on.

Two platforms share one database here (a Slack-like and a console-like fake): a person's DM goes
where they are, the hub's post to every platform with a hub channel, a card's edit to each copy,
and a person nobody can reach is reported as undeliverable with the reason, not dropped.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.chat import FakeChat
from bot.outbox import deliver_due
from handlers.slack.app import build_client
from handlers.slack.chat import SlackChat
from intake import decisions, hub, people, submission
from intake.notices import HUB, BusFactorNotice
from intake.people import SYSTEM, PersonRef
from intake.read_models import Actor, PersonView, jsonable
from intake.schema import Decision, Submission
from storage import repo
from storage.db import UnitOfWork, configure_delivery
from storage.models import OutboxMessage, Person
from tests.conftest import NOW
from tests.factories import ANSWERS
from tests.fakes.slack_api import FakeSlack

PERSONAL = Submission.model_validate({**ANSWERS, "data_sensitivity": "personal"})


def person(sf: sessionmaker[Session], platform: str, external_id: str, name: str, at: dt.datetime) -> Actor:
    with UnitOfWork(sf) as u:
        return people.resolve_actor(u, PersonRef(platform, external_id, name), now=at)[0]


def sent(chat: FakeChat) -> list[tuple[str, str, str]]:
    return [(s.operation, s.destination, s.notice.kind) for s in chat.transcript]


def test_each_message_reaches_its_person_on_their_platform_and_the_hub_on_every_platform(
    session_factory: sessionmaker[Session],
) -> None:
    sf = session_factory
    configure_delivery(sf, ("slack", "console"), ("slack", "console"))
    slack, console = FakeChat(platform="slack"), FakeChat(platform="console")
    ports = {"slack": slack, "console": console}
    with UnitOfWork(sf) as u:
        hub.add_department(u, SYSTEM, "Support", now=NOW)
        rita = hub.add_reviewer(u, SYSTEM, PersonRef("slack", "UREV", "Rita"), skills=["forecasting"], now=NOW)
    sam = person(sf, "console", "sam", "Sam", NOW)  # only ever used the console
    with UnitOfWork(sf) as u:
        use_case = submission.submit_use_case(u, sam, PERSONAL, now=NOW).use_case
    deliver_due(sf, ports, now=NOW)

    assert sent(slack) == [("post", HUB, "review_card"), ("post", "dm:Rita", "review_card")]
    assert sent(console) == [("post", HUB, "review_card"), ("post", "dm:Sam", "receipt")]

    reviewer = Actor(person_id=rita.id, name="Rita", is_reviewer=True, is_lead=False, handles={"slack": "UREV"})
    with UnitOfWork(sf) as u:
        decisions.decide(u, reviewer, use_case.id, Decision.APPROVE, now=NOW + dt.timedelta(hours=1))
    slack.transcript.clear()
    console.transcript.clear()
    deliver_due(sf, ports, now=NOW + dt.timedelta(hours=1))

    # Every copy of the card is edited where it was posted; the outcome goes to Sam where Sam is.
    assert sorted(sent(slack)) == [("update", "dm:Rita", "review_card"), ("update", HUB, "review_card")]
    assert sent(console) == [("update", HUB, "review_card"), ("post", "dm:Sam", "outcome")]
    with sf() as s:
        left = s.scalars(select(OutboxMessage).where(OutboxMessage.delivered_at.is_(None))).all()
    assert left == []


def test_a_person_on_two_platforms_hears_where_they_were_seen_last(session_factory: sessionmaker[Session]) -> None:
    sf = session_factory
    configure_delivery(sf, ("slack", "console"), ("slack",))
    slack, console = FakeChat(platform="slack"), FakeChat(platform="console")
    with UnitOfWork(sf) as u:
        hub.add_department(u, SYSTEM, "Support", now=NOW)
    sam = person(sf, "slack", "USAM", "Sam", NOW)
    later = NOW + dt.timedelta(days=1)
    with UnitOfWork(sf) as u:  # Sam's console name, linked to the same person, used a day later
        console_sam, _ = people.resolve_actor(u, PersonRef("console", "sam", "Sam"), now=later)
    with UnitOfWork(sf) as u:
        people.link_people(u, SYSTEM, PersonRef("slack", "USAM"), PersonRef("console", "sam"), now=later)
    with UnitOfWork(sf) as u:
        submission.submit_use_case(u, sam, Submission.model_validate(ANSWERS), now=later)
    deliver_due(sf, {"slack": slack, "console": console}, now=later)

    assert sent(console) == [("post", "dm:Sam", "receipt")]  # the receipt: where Sam was last
    assert sent(slack) == [("post", HUB, "self_serve")]  # the hub's post: Slack is the hub's only channel
    assert console_sam.person_id != sam.person_id  # two records until the lead linked them


def test_a_message_to_someone_no_platform_reaches_waits_or_is_reported_with_why(
    session_factory: sessionmaker[Session],
) -> None:
    sf = session_factory
    configure_delivery(sf, ("slack",), ("slack",))
    api = FakeSlack().start()
    try:
        slack = SlackChat(build_client("xoxb-test", api.base_url), "C_HUB", post_interval=0)
        ana = person(sf, "teams", "29:ana", "Ana", NOW)  # on Teams, which this deployment has no sender for
        with UnitOfWork(sf) as u:
            hub.add_department(u, SYSTEM, "Support", now=NOW)
            nobody = Person(name="register import", created_at=NOW)  # known on no platform at all
            u.session.add(nobody)
            u.commit()
        with UnitOfWork(sf) as u:
            submission.submit_use_case(u, ana, Submission.model_validate(ANSWERS), now=NOW)
            notice = BusFactorNotice(topic="ocr", expert=PersonView(id=nobody.id, name="register import"))
            repo.enqueue(u.session, jsonable(notice), person_id=nobody.id, at=NOW)
            u.commit()
        deliver_due(sf, {"slack": slack}, now=NOW)
    finally:
        api.stop()

    with sf() as s:
        to_ana = s.scalars(
            select(OutboxMessage).where(OutboxMessage.person_id == ana.person_id).order_by(OutboxMessage.id)
        ).all()
        to_nobody = s.scalars(select(OutboxMessage).where(OutboxMessage.person_id == nobody.id)).one()
    # Ana's messages wait for a Teams sender: not sent to Slack, not dropped.
    assert [(m.operation, m.platform, m.delivered_at, m.failed_at) for m in to_ana] == [
        ("profile", "teams", None, None), ("post", "teams", None, None)]
    assert all(c.params.get("channel") != "29:ana" for c in api.calls)
    # The person nobody can reach: reported as undeliverable, with why.
    assert to_nobody.failed_at is not None and to_nobody.delivered_at is None
    assert to_nobody.last_error and "register import" in to_nobody.last_error
