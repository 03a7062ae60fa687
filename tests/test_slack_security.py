"""Security over real HTTP: signatures, replays, escaping of user text, and role checks the UI cannot bypass."""

from __future__ import annotations

import json
import time
from typing import Any

from sqlalchemy import func, select

from handlers.slack.ids import Action, View
from intake import hub, people, submission
from intake.schema import Submission
from storage.db import UnitOfWork
from storage.models import AuditEvent, Department, Person, PersonSkill, Review, UseCase
from tests.conftest import HUB_CHANNEL, Scenario
from tests.factories import intake_values, on_slack, slack, slack_actor
from tests.fakes.signed import text_input, user_select
from tests.fakes.slack_api import Call

HOSTILE = "<!channel> <@U123> <https://evil|click>"
ESCAPED = ("&lt;!channel&gt;", "&lt;@U123&gt;", "&lt;https://evil|click&gt;")
RAW = ("<!channel>", "<@U123>", "<https://evil")
SUBMISSION = {
    "title": "Forecast invoice volumes", "problem": "Finance guesses monthly invoice volumes by hand.",
    "department": "Finance", "benefit": "Right-sized team", "success_metric": "Late payments -30%",
    "data_availability": "available", "data_sensitivity": "personal", "people_affected": "internal",
    "autonomy": "assistive",
}


def count(sc: Scenario, model: Any, *where: Any) -> int:
    with UnitOfWork(sc.app.core.session_factory) as uow:
        return int(uow.session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def stored_rows(sc: Scenario) -> dict[str, int]:
    """How many rows the request could have written, per table."""
    return {m.__name__: count(sc, m) for m in (Person, Department, AuditEvent, UseCase)}


def opened_view(sc: Scenario, n: int) -> dict[str, Any]:
    calls = sc.api.wait_for("views.open", n)
    assert len(calls) >= n, f"expected {n} modals, the bot opened {len(calls)}"
    view = calls[n - 1].params["view"]
    return json.loads(view) if isinstance(view, str) else view


def mrkdwn_texts(node: Any) -> list[str]:
    """Every mrkdwn string in blocks: the text Slack parses for mentions and links (plain_text it never parses)."""
    found: list[str] = []
    if isinstance(node, dict):
        if node.get("type") == "mrkdwn" and isinstance(node.get("text"), str):
            found.append(node["text"])
        for value in node.values():
            found += mrkdwn_texts(value)
    elif isinstance(node, list):
        for value in node:
            found += mrkdwn_texts(value)
    return found


def blocks_of(call: Call) -> Any:
    raw = call.params.get("blocks") or []
    return json.loads(raw) if isinstance(raw, str) else raw


# --- signatures ------------------------------------------------------------------------------------


def test_bad_signature_is_refused_and_stores_nothing(scenario: Scenario) -> None:
    sc = scenario
    before = stored_rows(sc)
    r = sc.slack.post_form(
        {"command": "/hub", "text": "department add Finance", "user_id": "ULEAD", "user_name": "lee",
         "team_id": "T111", "channel_id": "C1", "trigger_id": "1.t", "response_url": f"{sc.slack.hook_url}x"},
        secret="not-the-signing-secret",
    )
    assert r.status_code == 401
    assert stored_rows(sc) == before
    assert {c.method for c in sc.api.calls} == {"auth.test"}


def test_request_older_than_five_minutes_is_refused(scenario: Scenario) -> None:
    sc = scenario
    before = stored_rows(sc)
    r = sc.slack.post_form(
        {"command": "/hub", "text": "department add Finance", "user_id": "ULEAD", "user_name": "lee",
         "team_id": "T111", "channel_id": "C1", "trigger_id": "1.t", "response_url": f"{sc.slack.hook_url}x"},
        timestamp=int(time.time()) - 6 * 60,
    )
    assert r.status_code == 401
    assert stored_rows(sc) == before

    # The same request signed now goes through: it was the age that was refused.
    r = sc.slack.command(sc.user("ULEAD", "lee"), "/hub", "department add Finance")
    assert r.status_code == 200 and "Department *Finance* added" in r.json()["text"]


# --- escaping ------------------------------------------------------------------------------------


def hostile_round_trip(sc: Scenario) -> list[Call]:
    """Submit a use case whose title, problem and benefit hold mentions and a link, then request changes
    with a hostile reason: every chat.postMessage and chat.update the bot sent on the way."""
    lead, spoke, rita = sc.user("ULEAD", "lee"), sc.user("USPOKE", "sam"), sc.user("UREV", "rita")
    sc.slack.command(lead, "/hub", "department add Finance")
    sc.slack.command(lead, "/hub", "reviewer add <@UREV|rita> forecasting")
    sc.slack.command(spoke, "/usecase")
    r = sc.slack.submit_view(spoke, opened_view(sc, 1), intake_values(
        title=text_input(f"Ping {HOSTILE}"),
        problem=text_input(f"Everyone look: {HOSTILE} forecasting invoices by hand"),
        benefit=text_input(f"Fewer {HOSTILE}"),
    ))
    saved = json.dumps(r.json())
    assert r.json()["response_action"] == "update" and "&lt;!channel&gt;" in saved and "<!channel>" not in saved
    assert len(sc.api.wait_for("chat.postMessage", 3)) == 3  # hub card, reviewer DM, receipt

    with UnitOfWork(sc.app.core.session_factory) as uow:
        use_case_id = uow.session.scalars(select(UseCase.id)).one()
    sc.slack.click(rita, Action.REQUEST_CHANGES, f"{use_case_id}:1")
    reason_view = opened_view(sc, 2)
    r = sc.slack.submit_view(rita, reason_view, {"reason": text_input(f"Drop the {HOSTILE} please")})
    assert r.status_code == 200
    assert len(sc.api.wait_for("chat.update", 2)) == 2  # both copies of the card
    assert len(sc.api.wait_for("chat.postMessage", 2, channel="USPOKE")) == 2  # receipt, outcome
    return sc.api.of("chat.postMessage") + sc.api.of("chat.update")


def test_user_text_is_escaped_in_every_message(scenario: Scenario) -> None:
    calls = hostile_round_trip(scenario)
    assert {c.params["channel"] for c in calls} >= {HUB_CHANNEL, "UREV", "USPOKE"}
    for call in calls:
        # The fallback text is what notifications show (and Slack parses it); the blocks' mrkdwn is the message.
        for text in (str(call.params.get("text", "")), *mrkdwn_texts(blocks_of(call))):
            for raw in RAW:
                assert raw not in text, f"{call.method} to {call.params['channel']} carries raw {raw!r}: {text!r}"
    everything = "\n".join(t for c in calls for t in mrkdwn_texts(blocks_of(c)))
    for escaped in ESCAPED:
        assert escaped in everything
    assert all("&lt;!channel&gt;" in str(c.params.get("text")) for c in calls if c.params["channel"] != "USPOKE")
    # The reviewer's reason reaches the submitter escaped, too.
    to_submitter = [t for c in calls if c.params["channel"] == "USPOKE" for t in mrkdwn_texts(blocks_of(c))]
    assert any("Drop the &lt;!channel&gt;" in t for t in to_submitter)


# --- roles ---------------------------------------------------------------------------------------


def test_non_lead_cannot_add_reviewers(scenario: Scenario) -> None:
    sc = scenario
    r = sc.slack.command(sc.user("USPOKE", "sam"), "/hub", "reviewer add <@UMATE|mate> nlp")
    assert r.status_code == 200
    body = r.json()
    assert body["response_type"] == "ephemeral"
    assert "Only hub leads can change the hub's set-up" in body["text"]
    assert "is a hub reviewer" not in body["text"]
    with UnitOfWork(sc.app.core.session_factory) as uow:
        s = uow.session
        assert s.scalar(select(Person).where(on_slack("UMATE"))) is None
        assert s.scalar(select(func.count()).select_from(PersonSkill)) == 0
        assert s.scalar(select(func.count()).select_from(Person).where(Person.is_reviewer.is_(True))) == 0
        assert s.scalar(select(func.count()).select_from(AuditEvent)) == 0


def test_forged_reason_submission_by_non_reviewer_records_no_decision(scenario: Scenario) -> None:
    sc = scenario
    core = sc.app.core
    lead, spoke = slack_actor(core, "ULEAD", "lee")[0], slack_actor(core, "USPOKE", "sam")[0]
    core.run(hub.add_reviewer, lead, slack("UREV", "rita"), skills=["forecasting"])
    result = core.run(submission.submit_use_case, spoke, Submission.model_validate(SUBMISSION))
    use_case_id = result.use_case.id
    assert result.use_case.reviewer is not None

    # Never shown a reason modal, an outsider (and the submitter) replay one they built themselves.
    forged = {
        "type": "modal", "callback_id": View.REASON, "title": {"type": "plain_text", "text": "Reject"},
        "private_metadata": json.dumps({"use_case_id": use_case_id, "round": 1, "decision": "reject"}),
        "blocks": [],
    }
    for who in (sc.user("UOTHER", "otto"), sc.user("USPOKE", "sam")):
        r = sc.slack.submit_view(who, forged, {"reason": text_input("Forged rejection")})
        assert r.status_code == 200
        assert "Only hub reviewers can decide" in json.dumps(r.json())

    with UnitOfWork(core.session_factory) as uow:
        review = uow.session.scalars(select(Review).where(Review.use_case_id == use_case_id)).one()
        assert (review.decision, review.reason, review.decided_by_id) == (None, None, None)
        assert uow.session.get(UseCase, use_case_id).status == "in_review"  # type: ignore[union-attr]
    assert count(sc, AuditEvent, AuditEvent.action.like("decision:%")) == 0


def test_forged_reassign_and_resubmit_by_outsiders_change_nothing(scenario: Scenario) -> None:
    sc = scenario
    core = sc.app.core
    lead, spoke = slack_actor(core, "ULEAD", "lee")[0], slack_actor(core, "USPOKE", "sam")[0]
    core.run(hub.add_reviewer, lead, slack("UREV", "rita"), skills=["forecasting"])
    core.run(hub.add_reviewer, lead, slack("UVIC", "victor"), skills=[])
    use_case_id = core.run(submission.submit_use_case, spoke, Submission.model_validate(SUBMISSION)).use_case.id
    rita = core.read(people.person_id_for, slack("UREV"))
    outsider = sc.user("UOTHER", "otto")

    reassign = {"type": "modal", "callback_id": View.REASSIGN, "title": {"type": "plain_text", "text": "Reassign"},
                "private_metadata": json.dumps({"use_case_id": use_case_id, "round": 1}), "blocks": []}
    r = sc.slack.submit_view(outsider, reassign, {"reviewer": user_select("UVIC"), "note": text_input("")})
    assert r.status_code == 200 and "Only hub reviewers and leads can assign reviews" in json.dumps(r.json())

    resubmit = {"type": "modal", "callback_id": View.RESUBMIT, "title": {"type": "plain_text", "text": "Edit"},
                "private_metadata": json.dumps({"use_case_id": use_case_id}), "blocks": []}
    r = sc.slack.submit_view(outsider, resubmit, intake_values(title=text_input("Hijacked title")))
    assert r.status_code == 200 and "Only the person who submitted this use case" in json.dumps(r.json())

    with UnitOfWork(core.session_factory) as uow:
        uc = uow.session.get(UseCase, use_case_id)
        assert uc is not None and (uc.title, uc.reviewer_id, uc.status) == (SUBMISSION["title"], rita, "in_review")
        assert uow.session.scalar(select(func.count()).select_from(Review)) == 1
    assert count(sc, AuditEvent, AuditEvent.action.in_(("assigned", "resubmitted"))) == 0
