"""Teams over real HTTP (issue 10): real-shaped Activities POSTed to /api/messages, the bot's answers and proactive
messages captured at a loopback connector playing the serviceUrl, every card validated against Adaptive Cards 1.5.

The whole core loop on Teams (set-up, an invalid field, triage, the review card in the hub channel and the
reviewer's chat, a stranger refused, approve, the card updated everywhere, the outcome to the spoke), one hub
across Slack and Teams, and authentication: refused with credentials and without a token, and refused with
neither credentials nor the development flag.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from bot.app import create_app
from bot.settings import Settings
from bot.web import build_asgi
from intake.decisions import REVIEWERS_ONLY
from storage.db import UnitOfWork, configure_calendar
from storage.models import ConversationRef, Person, Review, UseCase
from tests.fakes.adaptive_cards import card_problems
from tests.fakes.server import serve
from tests.fakes.teams_connector import FakeConnector

TENANT = "tenant-1111"
BOT = "28:hubspoke-bot"
HUB = "19:hub-channel@thread.tacv2"
_ids = itertools.count(1)


@dataclass(frozen=True)
class TeamsUser:
    id: str
    name: str

    @property
    def chat(self) -> str:
        return f"a:chat-{self.id}"


LEE, SAM, RITA, VIC = (
    TeamsUser("29:lee", "Lee"),
    TeamsUser("29:sam", "Sam"),
    TeamsUser("29:rita", "Rita"),
    TeamsUser("29:vic", "Vic"),
)


@dataclass
class TeamsBot:
    base: str
    connector: FakeConnector
    app: Any

    def post(self, activity: dict[str, Any], headers: dict[str, str] | None = None) -> httpx.Response:
        return httpx.post(f"{self.base}/api/messages", json=activity, headers=headers or {}, timeout=15)

    def activity(
        self, user: TeamsUser, kind: str = "message", *, channel: str | None = None, **extra: Any
    ) -> dict[str, Any]:
        conversation = (
            {"id": f"{channel};messageid=17{next(_ids):011d}", "conversationType": "channel", "isGroup": True}
            if channel
            else {"id": user.chat, "conversationType": "personal"}
        )
        return {
            "type": kind,
            "id": f"17{next(_ids):011d}",
            "timestamp": "2026-12-04T10:00:00.000Z",
            "channelId": "msteams",
            "serviceUrl": self.connector.service_url,
            "from": {"id": user.id, "name": user.name, "aadObjectId": f"aad-{user.name.lower()}"},
            "conversation": {**conversation, "tenantId": TENANT},
            "recipient": {"id": BOT, "name": "Hubspoke"},
            "channelData": {"tenant": {"id": TENANT}},
            **extra,
        }

    def say(
        self, user: TeamsUser, text: str, *, channel: str | None = None, mentions: tuple[TeamsUser, ...] = ()
    ) -> httpx.Response:
        entities = [
            {"type": "mention", "text": f"<at>{m.name}</at>", "mentioned": {"id": m.id, "name": m.name}}
            for m in mentions
        ]
        entities.append({"type": "clientInfo", "locale": "en-GB", "timezone": "Europe/London"})
        if channel:
            text = "<at>Hubspoke</at> " + text
            entities.append(
                {"type": "mention", "text": "<at>Hubspoke</at>", "mentioned": {"id": BOT, "name": "Hubspoke"}}
            )
        return self.post(self.activity(user, channel=channel, text=text, entities=entities))

    def click(self, user: TeamsUser, verb: str, data: dict[str, Any], *, channel: str | None = None) -> dict[str, Any]:
        value = {"action": {"type": "Action.Execute", "verb": verb, "data": data}, "trigger": "manual"}
        r = self.post(self.activity(user, "invoke", channel=channel, name="adaptiveCard/action", value=value))
        assert r.status_code == 200, r.text
        return dict(r.json())

    def answered(self, conversation: str, n: int = 1) -> list[Any]:
        found = self.connector.wait_for(lambda s: s.conversation_id.startswith(conversation) and s.method == "POST", n)
        assert len(found) >= n, f"expected {n} messages in {conversation}, got {[s.text for s in found]}"
        return found


def teams_settings(database_url: str, **over: Any) -> Settings:
    values: dict[str, Any] = {
        "_env_file": None,
        "database_url": database_url,
        "teams_allow_unauthenticated": True,
        "teams_hub_channel": HUB,
        "hub_leads": LEE.id,
    }
    values.update(over)
    return Settings(**values)


@pytest.fixture
def teams(database_url: str, migrate: Callable[[str], None]) -> Iterator[TeamsBot]:
    migrate(database_url)
    connector = FakeConnector().start()
    app = create_app(teams_settings(database_url), outbox_interval=0.2, deliver=True)
    configure_calendar(app.core.session_factory, None)  # these tests run at any hour: messages go at once
    try:
        with serve(build_asgi(app)) as base:
            yield TeamsBot(base, connector, app)
    finally:
        connector.stop()
        app.core.session_factory.kw["bind"].dispose()
    assert not connector.invalid, f"the bot sent cards Teams would refuse: {connector.invalid}"


INTAKE = {
    "title": "Forecast invoice volumes",
    "problem": "Finance guesses monthly invoice volumes by hand.",
    "department": "Finance",
    "benefit": "Right-sized team",
    "success_metric": "Late payments -30%",
    "data_availability": "available",
    "data_sensitivity": "personal",
    "people_affected": "internal",
    "autonomy": "assistive",
}


def db(bot: TeamsBot, query: Any) -> Any:
    with UnitOfWork(bot.app.core.session_factory) as uow:
        return uow.session.scalar(query)


def set_up_hub(bot: TeamsBot) -> None:
    """Install in the hub channel, make it the hub's, add a department and a reviewer: all by a lead in chat."""
    assert bot.post(bot.activity(LEE, "conversationUpdate", channel=HUB, membersAdded=[{"id": BOT}])).status_code in (
        200,
        202,
    )
    assert bot.say(LEE, "hub channel here", channel=HUB).status_code == 200
    assert "This channel is the hub channel now" in bot.answered(HUB)[-1].text
    bot.say(LEE, "hub department add Finance")
    assert "Department **Finance** added." in bot.answered(LEE.chat)[-1].text
    bot.say(RITA, "hub skills list")  # Rita has talked to the bot: her personal chat is known
    bot.say(LEE, "/hub reviewer add <at>Rita</at> invoices, forecasting", mentions=(RITA,))
    assert "is a hub reviewer" in bot.answered(LEE.chat, 2)[-1].text


def test_the_core_loop_runs_in_teams_end_to_end(teams: TeamsBot) -> None:
    bot = teams
    set_up_hub(bot)

    assert bot.say(SAM, "usecase").status_code == 200
    form = bot.answered(SAM.chat)[-1].card
    assert [i["id"] for i in form["body"] if i["type"].startswith("Input.")][:3] == ["title", "problem", "department"]
    finance = next(i for i in form["body"] if i.get("id") == "department")
    assert finance["type"] == "Input.ChoiceSet" and [c["value"] for c in finance["choices"]] == ["Finance"]

    refused = bot.click(SAM, "submit_intake", {**INTAKE, "success_metric": "", "title": "x" * 300})
    assert refused["type"] == "application/vnd.microsoft.card.adaptive"
    texts = json.dumps(refused["value"])
    assert "2 answers need another look" in texts and "Please fill this in." in texts
    title = [i for i in refused["value"]["body"] if i.get("id") == "title" or "keep this under" in i.get("text", "")]
    assert [i.get("id") or i["text"] for i in title] == ["title", "⚠️ Please keep this under 120 characters."]
    assert db(bot, select(func.count()).select_from(UseCase)) == 0  # nothing stored until it is valid
    assert not card_problems(refused["value"])

    saved = bot.click(SAM, "submit_intake", INTAKE)
    assert "**Saved**: #1 **Forecast invoice volumes** went to hub review." in json.dumps(saved["value"])
    hub_card = bot.answered(HUB, 2)[-1]
    assert "Review #1" in hub_card.text and "Submitted by: <at>Sam</at>" in hub_card.text
    assert [a.get("verb") or a["title"] for a in hub_card.card["actions"]][:1] == ["approve"]
    rita_card = bot.answered(RITA.chat, 2)[-1]
    assert "Review #1" in rita_card.text
    receipt = bot.answered(SAM.chat, 2)[-1]
    assert "went to hub review" in receipt.text

    stranger = bot.click(VIC, "approve", {"use_case_id": 1, "round": 1}, channel=HUB)
    assert stranger == {
        "statusCode": 200,
        "type": "application/vnd.microsoft.activity.message",
        "value": REVIEWERS_ONLY,
    }
    assert db(bot, select(Review.decision)) is None

    approved = bot.click(RITA, "approve", {"use_case_id": 1, "round": 1}, channel=HUB)
    assert "**Approved** by <at>Rita</at>" in json.dumps(approved["value"])
    assert not card_problems(approved["value"])
    updates = bot.connector.wait_for(lambda s: s.method == "PUT", 2)
    assert {u.conversation_id for u in updates} == {HUB, next(s.conversation_id for s in [rita_card])}
    assert all("**Approved** by <at>Rita</at>" in u.text for u in updates)
    outcome = bot.connector.wait_for(
        lambda s: s.conversation_id == SAM.chat and "Move it along its lifecycle" in s.text
    )
    assert outcome, "the spoke was not told"

    again = bot.click(LEE, "approve", {"use_case_id": 1, "round": 1}, channel=HUB)
    assert "Rita already approved" in again["value"]


def test_a_person_the_bot_has_not_talked_to_gets_a_personal_chat_opened_through_the_connector(teams: TeamsBot) -> None:
    bot = teams
    set_up_hub(bot)
    bot.say(LEE, "/hub reviewer add <at>Vic</at> invoices", mentions=(VIC,))  # Vic never wrote to the bot
    bot.say(LEE, "hub away <at>Rita</at> on", mentions=(RITA,))
    bot.click(SAM, "submit_intake", INTAKE)
    created = bot.connector.wait_for(lambda s: s.method == "CREATE")
    assert created and created[0].body["members"] == [{"id": VIC.id}]
    card = bot.connector.wait_for(lambda s: s.conversation_id == created[0].conversation_id and "Review #1" in s.text)
    assert card, "the card did not reach the new chat"
    assert (
        db(bot, select(ConversationRef.kind).where(ConversationRef.conversation_id == created[0].conversation_id))
        == "personal"
    )


def test_requests_are_refused_without_a_valid_token_when_credentials_are_set(
    database_url: str, migrate: Callable[[str], None]
) -> None:
    migrate(database_url)
    connector = FakeConnector().start()
    settings = teams_settings(
        database_url,
        teams_allow_unauthenticated=False,
        teams_app_id="11111111-2222-3333-4444-555555555555",
        teams_app_password="secret",
        teams_tenant_id=TENANT,
    )
    app = create_app(settings, outbox_interval=0.2, deliver=True)
    try:
        with serve(build_asgi(app)) as base:
            bot = TeamsBot(base, connector, app)
            for headers in ({}, {"Authorization": "Bearer not-a-token"}):
                r = bot.post(bot.activity(SAM, text="usecase"), headers)
                assert r.status_code == 401
            r = bot.post(bot.activity(SAM, "typing"), {"Authorization": "Bearer not-a-token"})
            assert r.status_code == 401
            time.sleep(0.5)
            assert connector.sent == []  # no reply, no DM, nothing fetched
            assert db(bot, select(func.count()).select_from(Person)) == 0
    finally:
        connector.stop()
        app.core.session_factory.kw["bind"].dispose()


def test_without_credentials_or_the_development_flag_teams_answers_401(
    database_url: str, migrate: Callable[[str], None]
) -> None:
    migrate(database_url)
    settings = Settings(_env_file=None, database_url=database_url, slack_bot_token=None)
    app = create_app(settings, deliver=False)
    try:
        with serve(build_asgi(app)) as base:
            r = httpx.post(f"{base}/api/messages", json={"type": "message", "text": "usecase"}, timeout=10)
            assert r.status_code == 401
    finally:
        app.core.session_factory.kw["bind"].dispose()


def test_someone_teams_cannot_reach_yet_is_reported_to_the_leads_once(teams: TeamsBot) -> None:
    bot = teams
    set_up_hub(bot)
    bot.connector.create_status = 403  # the app is not installed for Vic
    bot.say(LEE, "/hub reviewer add <at>Vic</at> invoices", mentions=(VIC,))
    bot.say(LEE, "hub away <at>Rita</at> on", mentions=(RITA,))
    bot.click(SAM, "submit_intake", INTAKE)
    bot.click(SAM, "submit_intake", {**INTAKE, "title": "Forecast supplier volumes"})
    told = bot.connector.wait_for(lambda s: s.conversation_id == HUB and "cannot reach them on Teams yet" in s.text)
    assert len(told) == 1 and "<at>Lee</at>: messages to <at>Vic</at> cannot reach them" in told[0].text
    assert len(bot.connector.wait_for(lambda s: s.method == "CREATE:refused", 2)) == 2
    time.sleep(0.5)
    assert len([s for s in bot.connector.sent if "cannot reach them" in s.text]) == 1  # said once


def test_a_review_card_is_refreshed_for_each_viewer_with_only_what_they_may_do(teams: TeamsBot) -> None:
    bot = teams
    set_up_hub(bot)
    bot.click(SAM, "submit_intake", INTAKE)
    card = bot.answered(HUB, 2)[-1].card
    assert card["refresh"]["action"]["verb"] == "refresh"
    verbs = lambda c: [a.get("verb") or a["card"]["actions"][0]["verb"] for a in c.get("actions", [])]  # noqa: E731
    assert verbs(bot.click(RITA, "refresh", {"use_case_id": 1, "round": 1}, channel=HUB)["value"]) == [
        "approve",
        "request_changes",
        "reject",
        "reassign",
    ]
    assert verbs(bot.click(VIC, "refresh", {"use_case_id": 1, "round": 1}, channel=HUB)["value"]) == []
    assert verbs(bot.click(SAM, "refresh", {"use_case_id": 1, "round": 1}, channel=HUB)["value"]) == []


def test_an_export_asked_for_in_teams_arrives_as_files_once_the_lead_allows_the_upload(teams: TeamsBot) -> None:
    bot = teams
    set_up_hub(bot)
    bot.click(SAM, "submit_intake", INTAKE)
    bot.say(LEE, "hub export")
    offered = bot.connector.wait_for(
        lambda s: (
            s.conversation_id == LEE.chat
            and any(
                a.get("contentType") == "application/vnd.microsoft.teams.card.file.consent"
                for a in s.body["attachments"]
            )
        )
    )
    assert offered, "no file was offered"
    consents = offered[0].body["attachments"]
    names = [a["name"] for a in consents]
    assert len(names) == 2 and all(n.endswith(".csv") for n in names)
    first = consents[0]
    value = {
        "type": "fileUpload",
        "action": "accept",
        "context": first["content"]["acceptContext"],
        "uploadInfo": {
            "name": first["name"],
            "uploadUrl": bot.connector.upload_url + first["name"],
            "contentUrl": "https://contoso-my.sharepoint.com/f/" + first["name"],
            "uniqueId": "u-1",
            "fileType": "csv",
        },
    }
    vic = bot.post(bot.activity(VIC, "invoke", name="fileConsent/invoke", value=value))
    assert vic.status_code == 200 and bot.connector.uploads == {}  # someone else's offer uploads nothing
    r = bot.post(bot.activity(LEE, "invoke", name="fileConsent/invoke", value=value))
    assert r.status_code == 200
    uploaded = bot.connector.uploads[first["name"]].decode()
    assert "Forecast invoice volumes" in uploaded and first["content"]["sizeInBytes"] == len(uploaded.encode())
    assert bot.connector.upload_ranges == [f"bytes 0-{len(uploaded.encode()) - 1}/{len(uploaded.encode())}"]
    info = bot.connector.wait_for(
        lambda s: any(
            a.get("contentType") == "application/vnd.microsoft.teams.card.file.info"
            for a in s.body.get("attachments", [])
        )
    )
    assert info and info[0].conversation_id == LEE.chat


def test_the_portfolio_in_teams_comes_with_its_chart_as_an_image(teams: TeamsBot) -> None:
    bot = teams
    set_up_hub(bot)
    bot.click(SAM, "submit_intake", INTAKE)
    bot.say(LEE, "hub portfolio")
    assert "1 use case" in bot.answered(LEE.chat, 3)[-1].text
    chart = bot.connector.wait_for(
        lambda s: (
            s.conversation_id == LEE.chat
            and any(a.get("contentType") == "image/png" for a in s.body.get("attachments", []))
        )
    )
    assert chart, "no chart came"
    image = chart[0].body["attachments"][0]
    assert image["contentUrl"].startswith("data:image/png;base64,iVBOR")  # a PNG
    assert "Finance" in chart[0].body["text"]  # its alt text says the same numbers


def test_partial_teams_settings_stop_the_start_naming_what_is_missing(tmp_path: Any) -> None:
    import subprocess
    import sys

    env = {
        "PATH": "/usr/bin:/bin",
        "TEAMS_APP_ID": "11111111-2222-3333-4444-555555555555",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'h.db'}",
        "HOME": str(tmp_path),
    }
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "run", "--port", "0"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "cannot serve Teams: TEAMS_APP_PASSWORD, TEAMS_TENANT_ID not set." in done.stderr


def test_a_message_teams_sends_again_runs_once(teams: TeamsBot) -> None:
    bot = teams
    set_up_hub(bot)
    again = bot.activity(LEE, text="hub department add Operations", entities=[])
    assert bot.post(again).status_code == 200
    assert bot.post(again).status_code == 200  # the same activity id: Teams did not hear back in time
    time.sleep(0.5)
    answers = [s.text for s in bot.connector.to(LEE.chat) if "Operations" in s.text]
    assert answers == ["Department **Operations** added."]


def test_commands_in_cards_read_as_typed_and_user_text_cannot_format_or_mention() -> None:
    from handlers.teams.cards import Writer
    from intake.notices import Command, Plain

    writer = Writer()
    text = writer.text((Command("usecase <what you want to do>"), Plain(" *bold* <at>Lee</at> {{DATE(x)}}")))
    assert text == "`usecase <what you want to do>` \\*bold\\* \\<at\\>Lee\\</at\\> \\{\\{DATE(x)\\}\\}"
    assert writer.entities == []  # a typed <at> is not a mention


def test_only_a_lead_as_stored_now_makes_a_channel_the_hubs(teams: TeamsBot) -> None:
    bot = teams
    other = "19:other-channel@thread.tacv2"
    bot.say(VIC, "hub channel here", channel=other)
    assert "Only a hub lead can make this the hub channel." in bot.answered(other)[-1].text
    bot.say(LEE, "hub channel here")  # in a personal chat
    assert "Type this in the channel that should be the hub's" in bot.answered(LEE.chat)[-1].text
    from intake.conversations import HUB_CHANNEL_KEY
    from storage import repo

    with UnitOfWork(bot.app.core.session_factory) as uow:
        assert repo.get_setting(uow.session, HUB_CHANNEL_KEY) is None
