"""Teams through a connector that pushes back, and what people read in Teams.

The loopback connector answers the first sends with 429 and Retry-After, or with 503: every message still
arrives, once (none lost, none sent twice), whether it answers a message or is a notice the outbox sends. The
answer to `whoknows` names the expert, as a mention, with their evidence. A person @mentioned in a channel
message is the person of the mention's Teams id. Every card the bot sent passes the Adaptive Cards checks: those
through the connector at the fixture's teardown, those answering a click here.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.app import create_app
from bot.outbox.claims import backoff
from bot.web import build_asgi
from storage.db import UnitOfWork, configure_calendar
from storage.models import Department, Identity, OutboxMessage, Person, PersonSkill, Review
from storage.types import utcnow
from tests.fakes.adaptive_cards import card_problems
from tests.fakes.server import serve
from tests.fakes.teams_connector import FakeConnector, Sent
from tests.test_parity import wait_until
from tests.test_teams import (  # noqa: F401  (teams is the fixture)
    BOT,
    HUB,
    INTAKE,
    LEE,
    RITA,
    SAM,
    VIC,
    TeamsBot,
    set_up_hub,
    teams,
    teams_settings,
)

REVIEW = "Review #1: Forecast invoice volumes"


@dataclass
class Clock:
    """The bot's clock, which a test moves on past a back-off instead of waiting it out."""

    ahead: dt.timedelta = dt.timedelta(0)

    def __call__(self) -> dt.datetime:
        return utcnow() + self.ahead


@pytest.fixture
def clocked(database_url: str, migrate: Callable[[str], None]) -> Iterator[tuple[TeamsBot, Clock]]:
    """tests/test_teams.py's `teams`, on a clock the test can move on."""
    migrate(database_url)
    connector = FakeConnector().start()
    clock = Clock()
    app = create_app(teams_settings(database_url), clock=clock, outbox_interval=0.2, deliver=True)
    configure_calendar(app.core.session_factory, None)
    try:
        with serve(build_asgi(app)) as base:
            yield TeamsBot(base, connector, app), clock
    finally:
        connector.stop()
        app.core.session_factory.kw["bind"].dispose()
    assert not connector.invalid, f"the bot sent cards Teams would refuse: {connector.invalid}"


def stored(bot: TeamsBot, query: Any) -> Any:
    with UnitOfWork(bot.app.core.session_factory) as uow:
        return uow.session.scalar(query)


def click(bot: TeamsBot, user: Any, verb: str, data: dict[str, Any], **kw: Any) -> dict[str, Any]:
    """A click, its answer a card Teams can draw (or a plain message)."""
    answer = bot.click(user, verb, data, **kw)
    if answer["type"] == "application/vnd.microsoft.card.adaptive":
        assert not card_problems(answer["value"]), card_problems(answer["value"])
    return answer


def posts(bot: TeamsBot, conversation: str, words: str, method: str = "POST") -> list[Sent]:
    """Every message reading `words` sent to `conversation` itself."""
    return [s for s in bot.connector.to(conversation, method) if words in s.text]


def arrives(bot: TeamsBot, conversation: str, words: str, method: str = "POST") -> Sent:
    """The one message reading `words` in `conversation` (or a thread of it), once it came."""
    found = bot.connector.wait_for(
        lambda s: s.method == method and s.conversation_id.startswith(conversation) and words in s.text
    )
    assert found, f"nothing reading {words!r} reached {conversation}: {[s.text[:60] for s in bot.connector.sent]}"
    return found[0]


def drained(bot: TeamsBot) -> None:
    """Wait until the outbox has nothing left to send; nothing in it failed for good."""

    def done() -> bool:
        pending = OutboxMessage.delivered_at.is_(None) & OutboxMessage.failed_at.is_(None)
        return stored(bot, select(func.count()).select_from(OutboxMessage).where(pending)) == 0

    wait_until(done)
    assert stored(bot, select(func.count()).select_from(OutboxMessage).where(OutboxMessage.failed_at.is_not(None))) == 0


# --- a connector that pushes back ------------------------------------------------------------------------


def test_an_answer_the_connector_throttles_still_reaches_the_person_once(teams: TeamsBot) -> None:  # noqa: F811
    bot = teams
    bot.connector.throttle_next = 1  # the answer to the very first message is refused with 429, Retry-After: 1
    bot.say(LEE, "hub department add Finance")
    arrives(bot, LEE.chat, "Department **Finance** added.")
    bot.say(LEE, "hub department list")  # what comes after it still comes, behind it
    arrives(bot, LEE.chat, "**Departments**\n• Finance")
    assert bot.connector.throttle_next == 0, "the connector never throttled"
    drained(bot)
    assert [s.text for s in bot.connector.to(LEE.chat)] == [
        "Department **Finance** added.",
        "**Departments**\n• Finance",
    ]
    assert stored(bot, select(func.count()).select_from(Department)) == 1


def test_notices_the_connector_throttles_arrive_once_each(teams: TeamsBot) -> None:  # noqa: F811
    bot = teams
    set_up_hub(bot)
    bot.connector.throttle_next = 3  # the receipt, the hub's card and the reviewer's card are each refused once
    assert "went to hub review" in json.dumps(click(bot, SAM, "submit_intake", INTAKE)["value"])
    arrives(bot, SAM.chat, "went to hub review")
    arrives(bot, HUB, REVIEW)
    arrives(bot, RITA.chat, REVIEW)
    assert bot.connector.throttle_next == 0, "the connector never throttled"

    bot.connector.throttle_next = 2  # the updates of both copies of the card are refused once each
    approved = click(bot, RITA, "approve", {"use_case_id": 1, "round": 1}, channel=HUB)
    assert "**Approved** by <at>Rita</at>" in json.dumps(approved["value"])
    arrives(bot, HUB, "**Approved** by <at>Rita</at>", method="PUT")
    arrives(bot, RITA.chat, "**Approved** by <at>Rita</at>", method="PUT")
    arrives(bot, SAM.chat, "was **approved** by <at>Rita</at>")
    assert bot.connector.throttle_next == 0, "the connector never throttled"

    drained(bot)
    for conversation, words, method in (
        (SAM.chat, "went to hub review", "POST"),
        (HUB, REVIEW, "POST"),
        (RITA.chat, REVIEW, "POST"),
        (HUB, "**Approved** by <at>Rita</at>", "PUT"),
        (RITA.chat, "**Approved** by <at>Rita</at>", "PUT"),
        (SAM.chat, "was **approved** by <at>Rita</at>", "POST"),
    ):
        assert len(posts(bot, conversation, words, method)) == 1, f"{words!r} in {conversation}: not once"


def test_a_notice_the_connector_fails_with_a_5xx_is_sent_again(clocked: tuple[TeamsBot, Clock]) -> None:
    bot, clock = clocked
    set_up_hub(bot)
    bot.connector.fail_next = 1  # the first notice of the submission meets a 503, with no Retry-After
    click(bot, SAM, "submit_intake", INTAKE)

    def only_the_failed_one_waits() -> bool:
        waiting = select(OutboxMessage.last_error).where(
            OutboxMessage.delivered_at.is_(None), OutboxMessage.failed_at.is_(None)
        )
        with UnitOfWork(bot.app.core.session_factory) as uow:
            errors = list(uow.session.scalars(waiting))
        return len(errors) == 1 and "503" in (errors[0] or "")

    wait_until(only_the_failed_one_waits)
    assert bot.connector.fail_next == 0
    clock.ahead = backoff(1) + dt.timedelta(seconds=1)  # past the back-off the failure set, within any lease
    arrives(bot, SAM.chat, "went to hub review")
    arrives(bot, HUB, REVIEW)
    arrives(bot, RITA.chat, REVIEW)
    drained(bot)
    for conversation, words in ((SAM.chat, "went to hub review"), (HUB, REVIEW), (RITA.chat, REVIEW)):
        assert len(posts(bot, conversation, words)) == 1, f"{words!r} in {conversation}: not once"


# --- what people read --------------------------------------------------------------------------------------


def test_whoknows_answers_a_card_naming_the_expert_with_their_evidence(teams: TeamsBot) -> None:  # noqa: F811
    bot = teams
    set_up_hub(bot)  # Rita: a reviewer who knows invoices and forecasting
    click(bot, SAM, "submit_intake", INTAKE)
    click(bot, RITA, "approve", {"use_case_id": 1, "round": 1}, channel=HUB)

    bot.say(VIC, "whoknows invoices")
    answer = arrives(bot, VIC.chat, "**Who knows invoices**")
    assert "1. <at>Rita</at>" in answer.text
    assert "Declared skill: invoices" in answer.text
    assert "Reviewed use case #1: Forecast invoice volumes" in answer.text
    assert answer.text.index("<at>Rita</at>") < answer.text.index("Declared skill: invoices")
    mentioned = [e["mentioned"] for e in answer.card["msteams"]["entities"]]
    assert {"id": RITA.id, "name": "Rita"} in mentioned  # Teams draws her as a person, and notifies her

    bot.say(VIC, "whoknows quantum chromodynamics")
    assert "Nobody with evidence about that yet." in arrives(bot, VIC.chat, "**Who knows quantum").text


def test_a_person_mentioned_in_a_channel_is_the_person_of_the_mention(teams: TeamsBot) -> None:  # noqa: F811
    bot = teams
    bot.post(bot.activity(LEE, "conversationUpdate", channel=HUB, membersAdded=[{"id": BOT}]))
    bot.say(LEE, "hub reviewer add <at>Rita</at> invoices", channel=HUB, mentions=(RITA,))  # "@Hubspoke …" too
    answer = arrives(bot, HUB, "is a hub reviewer")
    assert answer.conversation_id.startswith(f"{HUB};messageid=")  # in the thread it was asked in
    assert answer.text == "<at>Rita</at> is a hub reviewer (invoices)."
    assert answer.card["msteams"]["entities"][0]["mentioned"] == {"id": RITA.id, "name": "Rita"}

    rita = stored(bot, select(Identity.person_id).where(Identity.platform == "teams", Identity.external_id == RITA.id))
    assert rita is not None, "Rita's Teams id was not taken from the mention"
    assert stored(bot, select(Person.is_reviewer).where(Person.id == rita)) is True
    assert stored(bot, select(Person.name).where(Person.id == rita)) == "Rita"
    with UnitOfWork(bot.app.core.session_factory) as uow:
        skills = {tuple(row) for row in uow.session.execute(select(PersonSkill.person_id, PersonSkill.skill))}
    assert skills == {(rita, "invoices")}  # not the lead's, not "<at>Rita</at> invoices", not the bot's

    bot.say(RITA, "hub skills list")  # when Rita first writes herself, she is that same person
    arrives(bot, RITA.chat, "invoices")
    assert stored(bot, select(func.count()).select_from(Person).where(func.lower(Person.name) == "rita")) == 1
    assert stored(bot, select(func.count()).select_from(Person).where(Person.name.in_(("Hubspoke", "")))) == 0

    click(bot, SAM, "submit_intake", INTAKE)  # and the review goes to her, the reviewer the mention made
    assert stored(bot, select(Review.reviewer_id)) == rita
