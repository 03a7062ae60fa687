"""One hub across Slack and Teams (issue 10): a spoke on Teams, a reviewer on Slack, one use case. The review card
reaches the reviewer where they are and both hub channels; a decision on Slack updates the card on both; the
outcome reaches the spoke on Teams; and a lead on both platforms, with one e-mail, is one person."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.app import create_app
from bot.web import build_asgi
from handlers.slack.ids import Action
from storage.db import UnitOfWork, configure_calendar
from storage.models import Identity, Person, Review
from tests.conftest import HUB_CHANNEL, Scenario
from tests.fakes.server import serve
from tests.fakes.signed import SIGNING_SECRET, SignedSlack
from tests.fakes.slack_api import FakeSlack, blocks_text
from tests.fakes.teams_connector import FakeConnector
from tests.test_teams import HUB, INTAKE, LEE, SAM, TeamsBot, teams_settings


@pytest.fixture
def both(database_url: str, migrate: Callable[[str], None]) -> Iterator[tuple[Scenario, TeamsBot]]:
    migrate(database_url)
    api = FakeSlack().start()
    connector = FakeConnector().start()
    settings = teams_settings(
        database_url,
        slack_bot_token="xoxb-test-token",
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=api.base_url,
        hub_channel=HUB_CHANNEL,
        hub_leads=f"ULEAD,{LEE.id}",
        slack_post_interval=0.2,
    )
    app = create_app(settings, outbox_interval=0.2, deliver=True)
    configure_calendar(app.core.session_factory, None)
    try:
        with serve(build_asgi(app)) as base:
            slack = Scenario(app=app, api=api, slack=SignedSlack(f"{base}/slack/events", api.hook_url), url=base)
            yield slack, TeamsBot(base, connector, app)
    finally:
        api.stop()
        connector.stop()
        app.core.session_factory.kw["bind"].dispose()
    assert not api.invalid and not connector.invalid


def count(app: Any, query: Any) -> Any:
    with UnitOfWork(app.core.session_factory) as uow:
        return uow.session.scalar(query)


def test_a_spoke_on_teams_and_a_reviewer_on_slack_work_on_one_use_case(both: tuple[Scenario, TeamsBot]) -> None:
    sc, bot = both
    lead, rita = sc.user("ULEAD", "lee"), sc.user("UREV", "rita")
    sc.api.users["ULEAD"]["profile"]["email"] = "lee@example.com"
    bot.connector.members[LEE.id] = {"id": LEE.id, "name": "Lee", "email": "Lee@Example.com"}
    assert "is a hub reviewer" in json.dumps(
        sc.slack.command(lead, "/hub", "reviewer add <@UREV|rita> invoices").json()
    )
    sc.slack.command(lead, "/hub", "department add Finance")

    bot.post(bot.activity(LEE, "conversationUpdate", channel=HUB, membersAdded=[{"id": "28:hubspoke-bot"}]))
    bot.say(LEE, "hub channel here", channel=HUB)
    assert "This channel is the hub channel now" in bot.answered(HUB)[-1].text
    people = count(sc.app, select(func.count()).select_from(Person).where(Person.name.in_(("lee", "Lee"))))
    assert people == 1, "Lee on Slack and Lee on Teams have one e-mail: one person"
    platforms = count(
        sc.app, select(func.count(Identity.id.distinct())).join(Person).where(Person.email == "lee@example.com")
    )
    assert platforms == 2

    saved = bot.click(SAM, "submit_intake", INTAKE)
    assert "went to hub review" in json.dumps(saved["value"])
    slack_cards = sc.api.wait_for("chat.postMessage", 2, channel=HUB_CHANNEL) + sc.api.wait_for(
        "chat.postMessage", 1, channel="UREV"
    )
    assert any("Forecast invoice volumes" in blocks_text(c) for c in slack_cards)
    teams_card = bot.connector.wait_for(lambda s: s.conversation_id == HUB and "Review #1" in s.text)
    assert teams_card, "the Teams hub channel got no card"

    sc.slack.click(rita, Action.APPROVE, "1:1", channel="DREV")
    updated = bot.connector.wait_for(lambda s: s.method == "PUT" and s.conversation_id == HUB)
    assert updated and "**Approved** by rita on" in updated[-1].text  # rita has no Teams account: her name
    assert sc.api.wait_for("chat.update", 2)
    outcome = bot.connector.wait_for(lambda s: s.conversation_id == SAM.chat and "Move it along" in s.text)
    assert outcome, "the spoke on Teams was not told"
    assert count(sc.app, select(Review.decision)) == "approve"
