"""Forged, malformed and hostile requests over real HTTP: refused before anything reads them, answered in
place when they are Slack's own, and never a reply, DM or fetch for a request that failed verification."""

from __future__ import annotations

import json
import logging
import time
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from bot.core import Core
from handlers.slack.ids import Action, View
from intake import hub, submission
from intake.people import SYSTEM
from intake.schema import Submission
from storage.db import UnitOfWork
from storage.models import AuditEvent, Department, OutboxMessage, Person, Review, UseCase
from tests.conftest import Scenario
from tests.factories import intake_values, slack, slack_actor
from tests.fakes.signed import sign, text_input
from tests.fakes.slack_api import blocks_text

SUBMISSION = {
    "title": "Forecast invoice volumes", "problem": "Finance guesses monthly invoice volumes by hand.",
    "department": "Finance", "benefit": "Right-sized team", "success_metric": "Late payments -30%",
    "data_availability": "available", "data_sensitivity": "personal", "people_affected": "internal",
    "autonomy": "assistive",
}


def counts(sc: Scenario) -> dict[str, int]:
    """Rows a request could have written, per table."""
    with UnitOfWork(sc.app.core.session_factory) as uow:
        return {m.__name__: int(uow.session.scalar(select(func.count()).select_from(m)) or 0)
                for m in (Person, Department, AuditEvent, UseCase, OutboxMessage)}


def outbound(sc: Scenario) -> list[str]:
    """Every call the bot made to Slack (and to response_urls) apart from its start-up auth.test."""
    return [c.method for c in sc.api.calls if c.method != "auth.test"]


def raw_post(
    sc: Scenario, body: bytes | str, headers: dict[str, str], client: httpx.Client | None = None
) -> httpx.Response:
    """POST exactly these bytes and headers (header values sent as UTF-8, as a hostile client may)."""
    raw = {k: v.encode() for k, v in headers.items()}
    return (client or sc.slack.client).post(sc.slack.url, content=body, headers=raw)


def command_body(sc: Scenario, user: str = "UVICTIM", text: str = "help") -> str:
    return urlencode({"command": "/hub", "text": text, "team_id": "T1", "user_id": user, "user_name": "victim",
                      "channel_id": "C1", "trigger_id": "1.t", "response_url": f"{sc.slack.hook_url}forged"})


# --- item 1: a request that fails verification does nothing ----------------------------------------


@pytest.mark.parametrize("timestamp", ["x", "", "1e9", "-5", "\uff11\uff12\uff13", "99999999999999999999"])
def test_an_unverifiable_timestamp_is_refused_and_nothing_is_sent(scenario: Scenario, timestamp: str) -> None:
    sc = scenario
    before = counts(sc)
    r = raw_post(sc, command_body(sc), {"Content-Type": "application/x-www-form-urlencoded",
                                        "X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": "v0=00"})
    assert r.status_code == 401 and r.content == b""
    assert counts(sc) == before
    assert outbound(sc) == []  # no DM to UVICTIM, no POST to the forged response_url


def test_an_unsigned_interaction_with_a_response_url_is_never_fetched(scenario: Scenario) -> None:
    sc = scenario
    payload = {"type": "block_actions", "user": {"id": "UVICTIM"}, "response_url": f"{sc.slack.hook_url}x",
               "actions": [{"action_id": Action.APPROVE, "value": "1:1"}], "trigger_id": "1.t"}
    body = urlencode({"payload": json.dumps(payload)})
    for headers in ({}, {"X-Slack-Request-Timestamp": "x"}, {"X-Slack-Request-Timestamp": str(int(time.time())),
                                                              "X-Slack-Signature": "v0=" + "0" * 64}):
        r = raw_post(sc, body, {"Content-Type": "application/x-www-form-urlencoded", **headers})
        assert r.status_code == 401
    assert outbound(sc) == []


# --- item 2: malformed bodies answer 400, signed or not, and the connection stays up ----------------


MALFORMED: list[tuple[str, bytes, str]] = [
    ("invalid UTF-8", b"command=/hub&text=\xff\xfe", "application/x-www-form-urlencoded"),
    ("a JSON array", b"[1, 2, 3]", "application/json"),
    ("a JSON string", b'"hello"', "application/json"),
    ("half an object", b"{", "application/json"),
    ("deep nesting", b'{"a":' * 1000 + b"1" + b"}" * 1000, "application/json"),
    ("a payload that is not JSON", b"payload=%7Bnot-json", "application/x-www-form-urlencoded"),
    ("a payload array", b"payload=%5B%5D", "application/x-www-form-urlencoded"),
    ("XML", b"<command>/hub</command>", "application/xml"),
    ("no content type", b"command=/hub", ""),
    ("user of the wrong type", json.dumps({"type": "block_actions", "user": 5, "team": [1],
                                           "actions": [{"action_id": Action.APPROVE}]}).encode(),
     "application/json"),
]


@pytest.mark.parametrize(("what", "body", "content_type"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_bodies_get_a_400_when_signed_and_a_401_when_not(
    scenario: Scenario, what: str, body: bytes, content_type: str
) -> None:
    sc = scenario
    before = counts(sc)
    with httpx.Client(timeout=10) as client:
        unsigned = raw_post(sc, body, {"Content-Type": content_type, "X-Slack-Request-Timestamp": "1"}, client)
        assert unsigned.status_code == 401
        ts = str(int(time.time()))
        import hashlib
        import hmac

        from tests.fakes.signed import SIGNING_SECRET

        sig = "v0=" + hmac.new(SIGNING_SECRET.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
        signed = raw_post(sc, body, {"Content-Type": content_type, "X-Slack-Request-Timestamp": ts,
                                     "X-Slack-Signature": sig}, client)
        assert signed.status_code == 400, f"{what}: {signed.status_code} {signed.text[:200]}"
        # The same keep-alive connection still serves the next request.
        assert client.get(f"{sc.url}/healthz").status_code == 200
    assert counts(sc) == before and outbound(sc) == []


def test_bodies_over_the_cap_are_refused_unread(scenario: Scenario) -> None:
    sc = scenario
    r = raw_post(sc, b"x" * (2 * 1024 * 1024), {"Content-Type": "application/x-www-form-urlencoded",
                                                 "X-Slack-Request-Timestamp": "1", "X-Slack-Signature": "v0=0"})
    assert r.status_code == 413


# --- item 3: one log line per refused request, never a body ---------------------------------------


def test_refused_requests_log_one_short_line_and_no_body(scenario: Scenario, caplog: pytest.LogCaptureFixture) -> None:
    sc = scenario
    caplog.set_level(logging.DEBUG)
    secret_text = "TOPSECRET-BODY-CONTENT"
    big = f"command=/hub&text={secret_text}" + "a" * (900 * 1024)
    raw_post(sc, big, {"Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": "1",
                       "X-Slack-Signature": "v0=00"})
    for _, body, content_type in MALFORMED:
        raw_post(sc, body + secret_text.encode(), {"Content-Type": content_type, "X-Slack-Request-Timestamp": "x"})
    server = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]  # not the test's client
    refused = [r for r in server if "refused a Slack request" in r.getMessage()]
    assert len(refused) == 1 + len(MALFORMED)
    everything = "\n".join(r.getMessage() + (r.exc_text or "") for r in server)
    assert secret_text not in everything
    assert all(len(r.getMessage()) < 200 and r.exc_info is None for r in refused)
    assert len(everything) < 300 * len(refused)


# --- item 4: roles are read as stored now ---------------------------------------------------------


def test_a_reviewer_removed_elsewhere_is_refused_at_the_next_click(scenario: Scenario) -> None:
    sc = scenario
    core = sc.app.core
    lead, spoke = slack_actor(core, "ULEAD", "lee")[0], slack_actor(core, "USPOKE", "sam")[0]
    core.run(hub.add_reviewer, lead, slack("UREV", "rita"), skills=["forecasting"])
    first = core.run(submission.submit_use_case, spoke, Submission.model_validate(SUBMISSION)).use_case.id
    second = core.run(submission.submit_use_case, spoke,
                      Submission.model_validate({**SUBMISSION, "title": "Second one"})).use_case.id
    rita = sc.user("UREV", "rita")
    assert sc.slack.command(rita, "/usecase", "list").status_code == 200  # this replica now caches her roles

    # The CLI (another process: its own Core over the same database) takes her off the rota.
    cli = Core(settings=core.settings, session_factory=core.session_factory)
    cli.run(hub.remove_reviewer, SYSTEM, slack("UREV"))

    r = sc.slack.click(rita, Action.APPROVE, f"{first}:1")
    assert r.status_code == 200
    assert "Only hub reviewers can decide" in sc.api.wait_for_hook("Only hub reviewers")
    r = sc.slack.submit_view(rita, {"type": "modal", "callback_id": View.REASSIGN, "title": {"type": "plain_text",
                             "text": "Reassign"}, "private_metadata": json.dumps({"use_case_id": second, "round": 1}),
                             "blocks": []}, {"reviewer": {"value": {"type": "users_select", "selected_user": "UREV"}},
                                             "note": text_input("")})
    assert "Only hub reviewers" in json.dumps(r.json())
    with UnitOfWork(core.session_factory) as uow:
        assert uow.session.scalar(select(func.count()).select_from(Review).where(Review.decision.is_not(None))) == 0
        assert uow.session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action.like("decision:%"))) == 0


# --- item 5: a link shows where it goes ------------------------------------------------------------


def test_a_link_that_would_show_one_address_and_open_another_is_refused_on_its_field(scenario: Scenario) -> None:
    sc = scenario
    lead, spoke = sc.user("ULEAD", "lee"), sc.user("USPOKE", "sam")
    sc.slack.command(lead, "/hub", "department add Finance")
    sc.slack.command(spoke, "/usecase")
    view = json.loads(sc.api.wait_for("views.open", 1)[0].params["view"])
    spoof = "https://evil.example/login|https://intranet.example/sso"
    r = sc.slack.submit_view(spoke, view, intake_values(links=text_input(spoof)))
    body = r.json()
    assert body["response_action"] == "errors" and set(body["errors"]) == {"links"}
    assert "contains '|'" in body["errors"]["links"]
    assert counts(sc)["UseCase"] == 0


def test_links_already_stored_are_labelled_by_host_and_encoded(scenario: Scenario) -> None:
    from handlers.slack.blocks import build_status
    from intake.read_models import UseCaseView

    sc = scenario
    core = sc.app.core
    spoke = slack_actor(core, "USPOKE", "sam")[0]
    uc = core.run(submission.submit_use_case, spoke, Submission.model_validate(SUBMISSION)).use_case
    forged = UseCaseView.model_validate({**uc.model_dump(), "links": ["https://evil.example/login|https://intranet.example/sso"]})
    text = json.dumps(build_status(forged))
    assert "<https://evil.example/login%7Chttps://intranet.example/sso|evil.example>" in text
    assert "|https://intranet.example/sso>" not in text


# --- item 6: a replayed submission stores nothing new ---------------------------------------------


def test_a_replayed_view_submission_stores_one_use_case(scenario: Scenario) -> None:
    sc = scenario
    lead, spoke = sc.user("ULEAD", "lee"), sc.user("USPOKE", "sam")
    sc.slack.command(lead, "/hub", "department add Finance")
    sc.slack.command(spoke, "/usecase")
    view = json.loads(sc.api.wait_for("views.open", 1)[0].params["view"])
    first = sc.slack.submit_view(spoke, view, intake_values())
    again = sc.slack.submit_view(spoke, view, intake_values())  # the same signed payload, sent again
    assert first.json()["response_action"] == again.json()["response_action"] == "update"
    assert "#1" in json.dumps(again.json())
    with UnitOfWork(sc.app.core.session_factory) as uow:
        assert uow.session.scalar(select(func.count()).select_from(UseCase)) == 1
        assert uow.session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "submitted")) == 1
    # A second form (a new view) is a second use case.
    sc.slack.command(spoke, "/usecase")
    second_view = json.loads(sc.api.wait_for("views.open", 2)[1].params["view"])
    assert second_view["id"] != view["id"]
    sc.slack.submit_view(spoke, second_view, intake_values(title=text_input("Another idea")))
    assert counts(sc)["UseCase"] == 2


# --- item 7: bad typed input is a clear message ----------------------------------------------------


@pytest.mark.parametrize(("typed", "answer"), [
    ("status 99999999999999999999", "There is no use case #99999999999999999999."),
    ("status 2147483648", "There is no use case #2147483648."),
    ("status ²", "'²' is not a use case id"),
    ("status #١٢", "is not a use case id"),
    ("stage 99999999999999999999 deployment", "There is no use case #99999999999999999999."),
])
def test_bad_ids_are_told_plainly(scenario: Scenario, typed: str, answer: str) -> None:
    r = scenario.slack.command(scenario.user("USPOKE", "sam"), "/usecase", typed)
    assert r.status_code == 200
    assert answer in r.json()["text"] and "went wrong" not in r.json()["text"]


def test_nul_bytes_and_lone_surrogates_are_stored_cleanly(scenario: Scenario) -> None:
    sc = scenario
    lead, spoke = sc.user("ULEAD", "lee"), sc.user("USPOKE", "sam")
    r = sc.slack.command(lead, "/hub", "department add Fin\x00ance")
    assert r.status_code == 200 and "Department *Finance* added" in r.json()["text"]
    sc.slack.command(spoke, "/usecase")
    view = json.loads(sc.api.wait_for("views.open", 1)[0].params["view"])
    # JSON carries "\ud800" (half a character) and NUL as escapes; Slack sends what clients give it.
    r = sc.slack.submit_view(spoke, view, intake_values(title=text_input("Forecast\x00 volumes \ud800ok")))
    assert r.json()["response_action"] == "update"
    with UnitOfWork(sc.app.core.session_factory) as uow:
        assert uow.session.scalar(select(UseCase.title)) == "Forecast volumes \ufffdok"
    # In a form body, half a character arrives as bytes that are not UTF-8 (%ED%A0%BD).
    form = urlencode({"command": "/whoknows", "user_id": "USPOKE", "user_name": "sam", "team_id": "T111",
                      "channel_id": "C1", "trigger_id": "1.t", "response_url": f"{sc.slack.hook_url}x"})
    body = form + "&text=forecasting%20%ED%A0%BD%00"
    r = raw_post(sc, body, {"Content-Type": "application/x-www-form-urlencoded", **sign(body)})
    assert r.status_code == 200 and "forecasting" in r.text and "went wrong" not in r.text


@pytest.mark.parametrize("user_id", [None, "", "U" + "X" * 40, "not-an-id", "u123", "U12 34"])
def test_a_command_without_a_valid_user_id_is_refused_clearly(scenario: Scenario, user_id: str | None) -> None:
    sc = scenario
    form = {"command": "/usecase", "text": "list", "team_id": "T111", "channel_id": "C1", "trigger_id": "1.t",
            "response_url": f"{sc.slack.hook_url}x"}
    if user_id is not None:
        form["user_id"] = user_id
    before = counts(sc)
    r = sc.slack.post_form(form)
    assert r.status_code == 200 and "could not tell who sent this" in r.json()["text"]
    assert counts(sc) == before


def test_a_click_without_a_user_is_acknowledged_and_does_nothing(scenario: Scenario) -> None:
    sc = scenario
    payload: dict[str, Any] = {"type": "block_actions", "team": {"id": "T111"}, "trigger_id": "1.t",
                               "actions": [{"action_id": Action.APPROVE, "value": "1:1", "type": "button"}],
                               "response_url": f"{sc.slack.hook_url}x"}
    before = counts(sc)
    r = sc.slack.interactive(payload)
    assert r.status_code == 200 and counts(sc) == before and outbound(sc) == []


# --- item 13: a form the database could not store stays open ---------------------------------------


def test_a_database_failure_keeps_the_form_open_and_says_it_was_not_saved(
    scenario: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    sc = scenario
    spoke = sc.user("USPOKE", "sam")
    sc.slack.command(sc.user("ULEAD", "lee"), "/hub", "department add Finance")
    sc.slack.command(spoke, "/usecase")
    view = json.loads(sc.api.wait_for("views.open", 1)[0].params["view"])

    def down(*args: object, **kwargs: object) -> None:
        raise OperationalError("INSERT INTO use_cases", {}, Exception("server closed the connection unexpectedly"))

    monkeypatch.setattr(submission, "submit_use_case", down)
    r = sc.slack.submit_view(spoke, view, intake_values())
    body = r.json()
    assert body["response_action"] == "errors"  # the form, with everything typed, stays where it is
    assert "Not saved" in body["errors"]["title"] and "still here" in body["errors"]["title"]
    assert "nothing" not in json.dumps(body).lower()
    monkeypatch.undo()
    # Submitting the same form again, once the database is back, saves it.
    assert sc.slack.submit_view(spoke, view, intake_values()).json()["response_action"] == "update"
    assert counts(sc)["UseCase"] == 1


def test_a_command_whose_text_says_payload_reaches_the_bot(scenario: Scenario) -> None:
    """Bolt reads any form body containing "payload" as an interactive one; the bot hands it JSON instead."""
    sc = scenario
    sc.slack.command(sc.user("ULEAD", "lee"), "/hub", "department add Finance")
    r = sc.slack.command(sc.user("USPOKE", "sam"), "/usecase", "Check every invoice payload for errors")
    assert r.status_code == 200
    view = json.loads(sc.api.wait_for("views.open", 1)[0].params["view"])
    assert "Check every invoice payload for errors" in blocks_text(sc.api.of("views.open")[0]) or any(
        b.get("element", {}).get("initial_value") == "Check every invoice payload for errors" for b in view["blocks"])


def test_signature_helper_matches_slacks_scheme() -> None:
    """The test client signs as Slack does; a body changed after signing fails."""
    from handlers.slack.transport import Refused, check_signature

    headers = sign("a=b")
    lower = {k.lower(): v for k, v in headers.items()}
    check_signature(b"test-signing-secret-0123456789abcdef", lower, b"a=b")
    with pytest.raises(Refused):
        check_signature(b"test-signing-secret-0123456789abcdef", lower, b"a=c")
