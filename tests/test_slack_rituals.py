"""The rituals on Slack over real HTTP: a retro prompt's button opens the retro form, refused answers come back
beside their question and nothing is stored until it is valid; a showcase invitation is answered with its
buttons, or handed to a colleague picked in it."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import select

from bot.rituals import schedules
from bot.rituals.digest import run_due
from handlers.slack.ids import Action, View
from intake import decisions, stages
from intake.people import SYSTEM
from intake.schema import Decision, Stage
from storage.db import UnitOfWork
from storage.models import Evidence, Retro, ShowcaseInvite
from tests.conftest import Scenario
from tests.factories import slack_actor
from tests.fakes.signed import select as pick
from tests.fakes.signed import text_input
from tests.test_slack_flows import command_text, opened_view, submit_directly


def deployed_on_slack(sc: Scenario) -> int:
    """A use case Sam submitted, Rita approved and Sam deployed, as the services leave it."""
    lead, rita = sc.user("ULEAD", "lee"), sc.user("UREV", "rita")
    sc.user("USPOKE", "sam")
    assert "is a hub reviewer" in command_text(sc.slack.command(lead, "/hub", "reviewer add <@UREV|rita> invoices"))
    use_case_id = submit_directly(sc, "USPOKE", "sam")
    core = sc.app.core
    core.run(decisions.decide, slack_actor(core, rita.id, "rita")[0], use_case_id, Decision.APPROVE)
    sam = slack_actor(core, "USPOKE", "sam")[0]
    for stage in (Stage.EXPERIMENTATION, Stage.PRODUCTION_ENGINEERING, Stage.DEPLOYMENT):
        core.run(stages.move_stage, sam, use_case_id, stage)
    return use_case_id


def retro_answers(**over: str | None) -> dict[str, dict[str, Any]]:
    answers: dict[str, Any] = {
        "worked": "The vendor master made routing rules easy.",
        "didnt": "Scanned PDFs defeated the OCR.",
        "differently": "Survey suppliers in week one.",
        "metric_result": "routing time down 41%",
        "metric_met": "partly",
    }
    answers.update(over)
    values = {k: text_input(v or "") for k, v in answers.items() if k != "metric_met"}
    values["metric_met"] = pick(answers["metric_met"], "radio_buttons")
    return values


def test_a_retro_is_written_from_its_prompt_on_slack(scenario: Scenario) -> None:
    sc = scenario
    use_case_id = deployed_on_slack(sc)
    prompt = sc.api.wait_for_text("chat.postMessage", "would you run a short blameless retro")
    assert "Success metric set at intake:* Late payments -30%" in prompt
    sam = sc.user("USPOKE", "sam")

    sc.slack.click(sam, Action.WRITE_RETRO, f"{use_case_id}:1", channel="DSPOKE")
    view = opened_view(sc, 1)
    assert view["callback_id"] == View.RETRO
    assert [b.get("block_id") for b in view["blocks"][1:]] == [
        "worked",
        "didnt",
        "differently",
        "metric_result",
        "metric_met",
    ]
    assert "Set at intake: Late payments -30%" in json.dumps(view)

    r = sc.slack.submit_view(sam, view, retro_answers(didnt="", metric_met=None))
    assert r.json() == {
        "response_action": "errors",
        "errors": {"didnt": "Please fill this in.", "metric_met": "Please fill this in."},
    }
    with UnitOfWork(sc.app.core.session_factory) as u:
        assert u.session.scalar(select(Retro.done_at)) is None  # nothing stored

    r = sc.slack.submit_view(sam, view, retro_answers())
    assert r.json()["response_action"] == "update"
    assert "is saved as a lesson" in json.dumps(r.json()["view"])
    with UnitOfWork(sc.app.core.session_factory) as u:
        retro = u.session.scalar(select(Retro))
        assert retro is not None and retro.didnt == "Scanned PDFs defeated the OCR." and retro.metric_met == "partly"
        assert u.session.scalar(select(Evidence.kind).where(Evidence.kind == "retro")) == "retro"

    rita = sc.user("UREV", "rita")
    sc.slack.click(rita, Action.WRITE_RETRO, f"{use_case_id}:1", channel="DREV")
    assert "Only the owner of #1 (sam) or a hub lead can write its retro." in sc.api.wait_for_hook("Only the owner")
    status = command_text(sc.slack.command(sam, "/usecase", f"status {use_case_id}"))
    assert "Retro* by <@USPOKE>" in status and "Scanned PDFs defeated the OCR." in status


def test_a_showcase_invitation_is_answered_with_its_buttons_or_handed_to_a_colleague(scenario: Scenario) -> None:
    sc = scenario
    deployed_on_slack(sc)
    core = sc.app.core
    core.run(schedules.add_schedule, SYSTEM, "showcase", "monthly first thursday 15:00", "C_SHOW", "Europe/London")
    at = dt.datetime(2027, 1, 7, 15, tzinfo=dt.UTC) - dt.timedelta(days=14, minutes=-1)
    assert run_due(core, at) == ["showcase: 2027-01-07T15:00Z:invite invited 1"]
    text = sc.api.wait_for_text("chat.postMessage", "Would you present")
    assert "Would you present #1 *Forecast invoice volumes* at the hub's showcase on" in text
    with UnitOfWork(core.session_factory) as u:
        invite_id = u.session.scalar(select(ShowcaseInvite.id))

    sam, vic = sc.user("USPOKE", "sam"), sc.user("UVIC", "victor")
    sc.slack.click(vic, Action.PRESENT, str(invite_id), channel="DVIC")
    assert "only the person invited can answer it" in sc.api.wait_for_hook("only the person invited")
    sc.slack.click(sam, Action.PRESENT, str(invite_id), channel="DSPOKE")
    assert "you are on the agenda for the showcase on" in sc.api.wait_for_hook("on the agenda")

    picked = {
        "type": "block_actions",
        "user": {"id": "USPOKE", "username": "sam", "name": "sam", "team_id": "T111"},
        "api_app_id": "A111",
        "token": "legacy",
        "trigger_id": "9.trigger",
        "team": {"id": "T111", "domain": "hub"},
        "container": {"type": "message", "message_ts": "1.1", "channel_id": "DSPOKE", "is_ephemeral": False},
        "channel": {"id": "DSPOKE", "name": "dm"},
        "response_url": f"{sc.api.hook_url}actions/nominate",
        "actions": [
            {
                "action_id": Action.NOMINATE,
                "block_id": f"nominate:{invite_id}",
                "type": "users_select",
                "selected_user": "UVIC",
                "action_ts": "1.2",
            }
        ],
    }
    assert sc.slack.interactive(picked).status_code == 200
    assert "Thanks: <@UVIC> is invited to present" in sc.api.wait_for_hook("is invited to present")
    nominated = sc.api.wait_for_text("chat.postMessage", "nominated you")
    assert "<@USPOKE> nominated you. Would you present #1" in nominated
    with UnitOfWork(core.session_factory) as u:
        answers = dict(u.session.execute(select(ShowcaseInvite.person_id, ShowcaseInvite.answer)).all())
    assert sorted(answers.values(), key=str) == [None, "nominated"]
