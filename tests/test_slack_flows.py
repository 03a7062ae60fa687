"""Flows beyond the core loop, over real HTTP: self-serve, picking and reassigning reviewers, away,
list and status, and the App Home tab (drawn once however often Slack retries the event)."""

from __future__ import annotations

import json
import time
import types
from typing import Any

from sqlalchemy import func, select

from handlers.slack.ids import Action, View
from intake import hub, submission
from intake.schema import Submission
from storage.db import UnitOfWork
from storage.models import OutboxMessage, Person, Review, UseCase
from tests.conftest import HUB_CHANNEL, Scenario
from tests.factories import intake_values, on_slack, slack, slack_actor
from tests.fakes.signed import select as pick
from tests.fakes.signed import text_input, user_select
from tests.fakes.slack_api import Call, blocks_text

SUBMISSION = {
    "title": "Forecast invoice volumes", "problem": "Finance guesses monthly invoice volumes by hand.",
    "department": "Finance", "benefit": "Right-sized team", "success_metric": "Late payments -30%",
    "data_availability": "available", "data_sensitivity": "personal", "people_affected": "internal",
    "autonomy": "assistive",
}


def opened_view(sc: Scenario, n: int) -> dict[str, Any]:
    calls = sc.api.wait_for("views.open", n)
    assert len(calls) >= n, f"expected {n} modals, the bot opened {len(calls)}"
    view = calls[n - 1].params["view"]
    return json.loads(view) if isinstance(view, str) else view


def command_text(r: Any) -> str:
    assert r.status_code == 200, r.text
    return json.dumps(r.json())


def blocks_of(call: Call) -> list[dict[str, Any]]:
    raw = call.params.get("blocks") or []
    return json.loads(raw) if isinstance(raw, str) else list(raw)


def scalar(sc: Scenario, query: Any) -> Any:
    with UnitOfWork(sc.app.core.session_factory) as uow:
        return uow.session.scalar(query)


def submit_directly(sc: Scenario, slack_id: str, name: str) -> int:
    """A use case submitted through the service (the modal path is covered elsewhere); its id."""
    core = sc.app.core
    actor, _ = slack_actor(core, slack_id, name)
    return int(core.run(submission.submit_use_case, actor, Submission.model_validate(SUBMISSION)).use_case.id)


def home_event(user_id: str) -> dict[str, Any]:
    return {"type": "app_home_opened", "user": user_id, "channel": f"D{user_id[1:]}", "tab": "home",
            "event_ts": f"{time.time():.6f}"}


def test_low_risk_use_case_goes_ahead_self_serve(scenario: Scenario) -> None:
    sc = scenario
    spoke = sc.user("USPOKE", "sam")
    sc.slack.command(sc.user("ULEAD", "lee"), "/hub", "reviewer add <@UREV|rita> forecasting")
    sc.slack.command(spoke, "/usecase")
    r = sc.slack.submit_view(spoke, opened_view(sc, 1), intake_values(
        data_sensitivity=pick("internal", "radio_buttons"), data_availability=pick("available")))
    saved = json.dumps(r.json())
    assert r.json()["response_action"] == "update"
    assert "*self-serve*" in saved and "Meets the hub's self-serve guidelines" in saved

    posts = sc.api.wait_for("chat.postMessage", 2)
    by_channel = {c.params["channel"]: blocks_text(c) for c in posts}
    assert set(by_channel) == {HUB_CHANNEL, "USPOKE"}
    assert "*Self-serve:*" in by_channel[HUB_CHANNEL] and "is going ahead" in by_channel[HUB_CHANNEL]
    assert "<@USPOKE>" in by_channel[HUB_CHANNEL]
    assert "can go ahead *self-serve*" in by_channel["USPOKE"]
    assert not any("Approve" in text for text in by_channel.values())
    # Nothing else is queued: no review round, no card for a reviewer.
    assert scalar(sc, select(func.count()).select_from(Review)) == 0
    assert scalar(sc, select(func.count()).select_from(OutboxMessage).where(OutboxMessage.operation == "post")) == 2
    assert scalar(sc, select(UseCase.status)) == "self_serve"


def test_hub_picks_a_reviewer_when_routing_found_none(scenario: Scenario) -> None:
    sc = scenario
    lead, spoke, rita = sc.user("ULEAD", "lee"), sc.user("USPOKE", "sam"), sc.user("UREV", "rita")
    sc.user("UVIC", "victor")
    sc.slack.command(lead, "/hub", "reviewer add <@UREV|rita> forecasting")
    sc.slack.command(lead, "/hub", "reviewer add <@UVIC|victor> nlp")
    assert "<@UREV> is away" in command_text(sc.slack.command(lead, "/hub", "away <@UREV> on"))
    assert "<@UVIC> is away" in command_text(sc.slack.command(lead, "/hub", "away <@UVIC> on"))

    sc.slack.command(spoke, "/usecase")
    r = sc.slack.submit_view(spoke, opened_view(sc, 1), intake_values())
    assert "The hub is picking a reviewer" in json.dumps(r.json())
    posts = sc.api.wait_for("chat.postMessage", 2)
    assert {c.params["channel"] for c in posts} == {HUB_CHANNEL, "USPOKE"}  # no reviewer DM
    card = next(c for c in posts if c.params["channel"] == HUB_CHANNEL)
    picker = next(b for b in blocks_of(card) if b.get("block_id") == "pick_reviewer")
    assert picker["accessory"]["type"] == "users_select" and picker["accessory"]["action_id"] == Action.PICK_REVIEWER
    assert "pick a reviewer" in picker["text"]["text"]
    message = {"type": "message", "ts": "1.1", "blocks": blocks_of(card)}

    # Picking someone who is not a reviewer is explained privately; nothing changes.
    sc.slack.click(rita, Action.PICK_REVIEWER, selected_user="UOTHER", message=message)
    assert "not a hub reviewer" in sc.api.wait_for_hook("not a hub reviewer")
    assert scalar(sc, select(Review.reviewer_id)) is None

    assert "<@UVIC> is back" in command_text(sc.slack.command(lead, "/hub", "away <@UVIC> off"))
    r = sc.slack.click(rita, Action.PICK_REVIEWER, selected_user="UVIC", message=message)
    assert r.status_code == 200
    dm = sc.api.wait_for("chat.postMessage", 1, channel="UVIC")
    assert dm, "the picked reviewer got no card"
    dm_text = blocks_text(dm[0])
    assert "Assigned to victor by rita" in dm_text and "Approve" in dm_text
    updates = sc.api.wait_for("chat.update", 1, channel=HUB_CHANNEL)
    assert updates, "the hub card was not updated"
    hub_card = blocks_text(updates[0])
    assert "Assigned to victor by rita" in hub_card and "*Reviewer*\n<@UVIC>" in hub_card
    assert "pick a reviewer" not in hub_card and "Reassign" in hub_card
    victor_id = scalar(sc, select(Person.id).where(on_slack("UVIC")))
    assert scalar(sc, select(Review.reviewer_id)) == victor_id
    assert scalar(sc, select(UseCase.reviewer_id)) == victor_id


def test_reviewer_reassigns_a_review(scenario: Scenario) -> None:
    sc = scenario
    lead, spoke, rita = sc.user("ULEAD", "lee"), sc.user("USPOKE", "sam"), sc.user("UREV", "rita")
    sc.user("UVIC", "victor")
    sc.user("UWALT", "walt")
    for who, skills in (("<@UREV|rita>", "forecasting"), ("<@UVIC|victor>", "nlp"), ("<@UWALT|walt>", "vision")):
        assert "is a hub reviewer" in command_text(sc.slack.command(lead, "/hub", f"reviewer add {who} {skills}"))
    sc.slack.command(spoke, "/usecase")
    sc.slack.submit_view(spoke, opened_view(sc, 1), intake_values())
    first = sc.api.wait_for("chat.postMessage", 3)
    assert {c.params["channel"] for c in first} == {HUB_CHANNEL, "UREV", "USPOKE"}
    use_case_id = scalar(sc, select(UseCase.id))
    assert "away: new reviews skip them" in command_text(sc.slack.command(lead, "/hub", "away <@UWALT> on"))

    sc.slack.click(rita, Action.REASSIGN, f"{use_case_id}:1", channel="DREV")
    view = opened_view(sc, 2)
    assert view["callback_id"] == View.REASSIGN
    assert "Forecast invoice volumes" in json.dumps(view)

    r = sc.slack.submit_view(rita, view, {"reviewer": user_select("UWALT"), "note": text_input("")})
    assert r.json() == {"response_action": "errors", "errors": {"reviewer": "walt is away. Pick someone else."}}
    r = sc.slack.submit_view(rita, view, {"reviewer": user_select("USPOKE"), "note": text_input("")})
    assert r.json()["response_action"] == "errors" and "reviewer" in r.json()["errors"]
    rita_id = scalar(sc, select(Person.id).where(on_slack("UREV")))
    assert scalar(sc, select(Review.reviewer_id)) == rita_id

    r = sc.slack.submit_view(rita, view, {"reviewer": user_select("UVIC"), "note": text_input("He knows the ERP.")})
    assert r.status_code == 200 and not r.content.strip()
    dm = sc.api.wait_for("chat.postMessage", 1, channel="UVIC")
    assert dm, "the new reviewer got no card"
    assert "Reassigned from rita to victor by rita: He knows the ERP." in blocks_text(dm[0])
    updates = sc.api.wait_for("chat.update", 2)
    assert {c.params["channel"] for c in updates} == {HUB_CHANNEL, "DREV"}
    for update in updates:
        text = blocks_text(update)
        assert "Reassigned from rita to victor" in text and "*Reviewer*\n<@UVIC>" in text
    victor_id = scalar(sc, select(Person.id).where(on_slack("UVIC")))
    assert scalar(sc, select(Review.reviewer_id)) == victor_id


def test_away_list_and_status_commands(scenario: Scenario) -> None:
    sc = scenario
    lead, spoke, rita = sc.user("ULEAD", "lee"), sc.user("USPOKE", "sam"), sc.user("UREV", "rita")
    sc.slack.command(lead, "/hub", "reviewer add <@UREV|rita> forecasting")

    # Anyone may set themselves away and back; only leads set others.
    assert "<@UREV> is away: new reviews skip them." in command_text(sc.slack.command(rita, "/hub", "away on"))
    assert scalar(sc, select(Person.away).where(on_slack("UREV"))) is True
    refused = command_text(sc.slack.command(spoke, "/hub", "away <@UREV> off"))
    assert "only hub leads can set others" in refused
    assert scalar(sc, select(Person.away).where(on_slack("UREV"))) is True
    assert "<@UREV> is back" in command_text(sc.slack.command(rita, "/hub", "away off"))
    assert scalar(sc, select(Person.away).where(on_slack("UREV"))) is False

    assert "None yet" in command_text(sc.slack.command(spoke, "/usecase", "list"))
    use_case_id = submit_directly(sc, "USPOKE", "sam")
    r = sc.slack.command(spoke, "/usecase", "list")
    listed = command_text(r)
    assert r.json()["response_type"] == "ephemeral"
    assert f"#{use_case_id} *Forecast invoice volumes*: In hub review" in listed

    r = sc.slack.command(spoke, "/usecase", f"status {use_case_id}")
    status = command_text(r)
    assert r.json()["response_type"] == "ephemeral"
    assert r.json()["text"] == f"#{use_case_id} Forecast invoice volumes"
    assert "*Hub:* In hub review" in status and "Can move to: experimentation" in status
    assert "<@UREV>" in status  # the reviewer it went to

    r = sc.slack.command(spoke, "/usecase", "status 999")
    assert r.json()["response_type"] == "ephemeral" and "There is no use case #999" in r.json()["text"]
    assert "is not a use case id" in command_text(sc.slack.command(spoke, "/usecase", "status twelve"))


def test_home_tab_shows_my_use_cases_and_my_review_queue(scenario: Scenario) -> None:
    sc = scenario
    sc.user("USPOKE", "sam")
    sc.user("UREV", "rita")
    lead, _ = slack_actor(sc.app.core, "ULEAD", "lee")
    sc.app.core.run(hub.add_reviewer, lead, slack("UREV", "rita"), skills=["forecasting"])
    use_case_id = submit_directly(sc, "USPOKE", "sam")

    assert sc.slack.event(home_event("USPOKE")).status_code == 200
    assert sc.slack.event(home_event("UREV")).status_code == 200
    spoke_home = sc.api.wait_for("views.publish", 1, user_id="USPOKE")
    rita_home = sc.api.wait_for("views.publish", 1, user_id="UREV")
    assert spoke_home and rita_home
    spoke_text, rita_text = blocks_text(spoke_home[0]), blocks_text(rita_home[0])
    assert "*Your use cases*" in spoke_text and f"#{use_case_id} *Forecast invoice volumes*" in spoke_text
    assert "Waiting for your review" not in spoke_text
    assert "*Your use cases*\nNone yet" in rita_text
    assert f"*Waiting for your review*\n#{use_case_id} *Forecast invoice volumes*" in rita_text
    assert "Approve" in rita_text


def test_retried_event_is_processed_once(scenario: Scenario) -> None:
    sc = scenario
    sc.user("USPOKE", "sam")
    event = home_event("USPOKE")
    assert sc.slack.event(event, event_id="EvHOME0001").status_code == 200
    assert len(sc.api.wait_for("views.publish", 1)) == 1
    assert sc.slack.event(event, event_id="EvHOME0001", retry_num=1).status_code == 200
    assert len(sc.api.wait_for("views.publish", 2, timeout=1.5)) == 1


def test_refused_click_is_answered_within_slacks_three_seconds(scenario: Scenario, monkeypatch: Any) -> None:
    """A listener that raised after ack() lost its ack in Bolt's ThreadListenerRunner (it resets ack.response),
    so the click was answered only after Bolt's 3 s ack timeout: too late for Slack."""
    sc = scenario
    sc.user("USPOKE", "sam")
    use_case_id = submit_directly(sc, "USPOKE", "sam")
    # Pin down one real interleaving: the listener thread (ack, fail, tell the person) runs to the end
    # before the HTTP thread first looks for the ack. Under load this happens by itself.
    inline = types.SimpleNamespace(submit=lambda fn, *args, **kwargs: fn(*args, **kwargs))
    monkeypatch.setattr(sc.app.slack._listener_runner, "listener_executor", inline)

    stranger = sc.user("UOTHER", "otto")
    started = time.monotonic()
    r = sc.slack.click(stranger, Action.EDIT_RESUBMIT, str(use_case_id), channel="DOTHER")
    elapsed = time.monotonic() - started
    assert r.status_code == 200
    refusal = f"Only sam (who submitted #{use_case_id}) or a hub lead can edit it."
    assert refusal in sc.api.wait_for_hook(refusal)
    assert elapsed < 2.0, f"Slack gives up after 3 s; this click was answered after {elapsed:.2f} s"


def test_status_shows_each_viewer_what_they_may_do(scenario: Scenario) -> None:
    sc = scenario
    sc.user("USPOKE", "sam")
    rita = sc.user("UREV", "rita")
    lead, _ = slack_actor(sc.app.core, "ULEAD", "lee")
    sc.app.core.run(hub.add_department, lead, "Finance")
    sc.app.core.run(hub.add_reviewer, lead, slack("UREV", "rita"), skills=["forecasting"])
    use_case_id = submit_directly(sc, "USPOKE", "sam")
    as_reviewer = command_text(sc.slack.command(rita, "/usecase", f"status {use_case_id}"))
    as_owner = command_text(sc.slack.command(sc.user("USPOKE", "sam"), "/usecase", f"status {use_case_id}"))
    assert Action.APPROVE.value in as_reviewer and Action.REASSIGN.value in as_reviewer
    assert Action.APPROVE.value not in as_owner and Action.REASSIGN.value not in as_owner
