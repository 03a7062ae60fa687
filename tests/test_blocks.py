"""Block Kit builders, tested directly: what people read, and that Slack would accept it."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from handlers.slack import blocks
from handlers.slack.chat import render
from handlers.slack.ids import Action, View
from handlers.slack.modals import (
    Draft,
    ModalContext,
    build_intake_modal,
    build_reason_form_modal,
    build_reason_modal,
    build_reassign_modal,
    build_submitted_view,
    parse_intake,
)
from handlers.slack.mrkdwn import clip, escape, quote
from intake.forms import close_form, reopen_form
from intake.notices import Outcome, Receipt, ReviewCard, ReviewNudge, SelfServeNotice
from intake.read_models import Change, PersonView, ReviewView, SubmitResult, UseCaseView
from intake.schema import Decision, RiskTier, Route, Status
from tests.factories import use_case_view
from tests.fakes.slack_api import validate_blocks, validate_view

T0 = dt.datetime(2026, 11, 2, 9, 30, tzinfo=dt.UTC)
SAM = PersonView(id=1, name="Sam", handles={"slack": "USAM"})
RITA = PersonView(id=2, name="Rita", handles={"slack": "URITA"}, is_reviewer=True)


def use_case(**over: Any) -> UseCaseView:
    return use_case_view(SAM, RITA, **over)


def text_of(body: list[dict[str, Any]]) -> str:
    return json.dumps(body, ensure_ascii=False)


def mrkdwn_of(text: str, body: list[dict[str, Any]]) -> str:
    """The fallback text and every mrkdwn string: what Slack parses for mentions and links."""
    found = [text]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn":
                found.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(body)
    return "\n".join(found)


def assert_valid(body: list[dict[str, Any]]) -> None:
    assert validate_blocks(body) == []


def test_mrkdwn_escape_defuses_mentions_and_links() -> None:
    assert escape("<!channel> & <@U1> <https://x|y>") == "&lt;!channel&gt; &amp; &lt;@U1&gt; &lt;https://x|y&gt;"
    assert quote("a\n<b>") == "> a\n> &lt;b&gt;"
    assert clip("&amp;&amp;&amp;", 8) == "&amp;…"  # never cuts an entity in half


def test_open_review_card_has_the_facts_and_the_four_decisions() -> None:
    text, body = blocks.build_review_card(ReviewCard(use_case=use_case(), matched_skills=["forecasting"]))
    assert_valid(body)
    shown = text_of(body)
    assert text == "Review #12: Invoice triage"
    for expected in (
        "Invoices wait days",
        "Finance",
        "<@USAM>",
        "<@URITA> (knows forecasting)",
        "Routing time -50%",
        "Medium",
        "uses personal data",
        "Personal data",
    ):
        assert expected in shown
    actions = next(b for b in body if b["type"] == "actions")
    assert [e["action_id"] for e in actions["elements"]] == [
        Action.APPROVE,
        Action.REQUEST_CHANGES,
        Action.REJECT,
        Action.REASSIGN,
    ]
    assert {e["value"] for e in actions["elements"]} == {"12:1"}


def test_decided_card_shows_who_when_why_and_no_buttons() -> None:
    review = ReviewView(
        round=1, reviewer=RITA, decision=Decision.REJECT, reason="Duplicate of #3", decided_by=RITA, decided_at=T0
    )
    text, body = blocks.build_review_card(ReviewCard(use_case=use_case(status="rejected", review=review)))
    assert_valid(body)
    shown = text_of(body)
    assert "*Rejected* by <@URITA> on <!date^" in shown and "> Duplicate of #3" in shown
    assert not any(b["type"] == "actions" for b in body)
    assert text.endswith("(Rejected)")


def test_card_without_reviewer_asks_the_hub_to_pick_one() -> None:
    uc = use_case(reviewer=None, review=ReviewView(round=1))
    _, body = blocks.build_review_card(ReviewCard(use_case=uc))
    assert_valid(body)
    picker = next(b for b in body if b.get("block_id") == "pick_reviewer")
    assert picker["accessory"]["action_id"] == Action.PICK_REVIEWER
    assert any(b.get("block_id") == "review:12:1" for b in body)


def test_resubmitted_card_lists_what_changed() -> None:
    review = ReviewView(
        round=2, reviewer=RITA, changes=[Change(field="Data sensitivity", before="personal", after="internal")]
    )
    _, body = blocks.build_review_card(ReviewCard(use_case=use_case(review=review)))
    assert "(round 2)" in text_of(body) and "*Data sensitivity*: personal → internal" in text_of(body)


def test_hostile_text_is_escaped_everywhere() -> None:
    evil = "<!channel> ping <@U999> <https://evil.example|click>"
    uc = use_case(title=evil, problem=evil * 3, benefit=evil, success_metric=evil[:50], data_sources=evil)
    for notice in (
        ReviewCard(use_case=uc),
        SelfServeNotice(use_case=uc),
        Receipt(use_case=uc),
        ReviewNudge(use_case=uc, waited_hours=30),
    ):
        text, body = render(notice)
        shown = mrkdwn_of(text, body)
        assert "<!channel>" not in shown and "<@U999>" not in shown and "<https://evil" not in shown
        assert "&lt;!channel&gt;" in shown


def test_huge_answers_still_fit_slack_limits() -> None:
    uc = use_case(
        problem="&" * 2500,
        benefit="<" * 2500,
        data_sources="x" * 1000,
        title="T" * 120,
        links=[f"https://example.com/{i}" for i in range(10)],
    )
    for notice in (ReviewCard(use_case=uc), SelfServeNotice(use_case=uc), Receipt(use_case=uc)):
        assert_valid(render(notice)[1])
    assert_valid(blocks.build_status(uc))


@pytest.mark.parametrize(
    ("decision", "expected", "button"),
    [
        (Decision.APPROVE, "was *approved* by <@URITA>", False),
        (Decision.REJECT, "was *rejected* by <@URITA>", False),
        (Decision.REQUEST_CHANGES, "<@URITA> *asked for changes* on #12", True),
    ],
)
def test_outcome_dm(decision: Decision, expected: str, button: bool) -> None:
    review = ReviewView(round=1, decision=decision, reason="Because", decided_by=RITA, decided_at=T0)
    status = {"approve": "approved", "reject": "rejected", "request_changes": "changes_requested"}[decision.value]
    _, body = blocks.build_outcome(Outcome(use_case=use_case(review=review, status=status)))
    assert_valid(body)
    assert expected in text_of(body) and "> Because" in text_of(body)
    assert ("Edit and resubmit" in text_of(body)) is button


def test_receipt_says_where_it_went_and_next_steps() -> None:
    _, body = blocks.build_receipt(Receipt(use_case=use_case()))
    assert "went to hub review" in text_of(body) and "assigned to <@URITA>" in text_of(body)
    selfserve = use_case(
        route=Route.SELF_SERVE, status=Status.SELF_SERVE, risk_tier=RiskTier.LOW, reviewer=None, review=None
    )
    _, body = blocks.build_receipt(Receipt(use_case=selfserve))
    assert "can go ahead *self-serve*" in text_of(body) and "/usecase stage 12 experimentation" in text_of(body)


def test_nudge_reminds_and_escalates() -> None:
    _, body = blocks.build_nudge(ReviewNudge(use_case=use_case(), waited_hours=26))
    assert "has waited 26 hours for your review" in text_of(body)
    lead = PersonView(id=9, name="Lee", handles={"slack": "ULEAD"}, is_lead=True)
    _, body = blocks.build_nudge(ReviewNudge(use_case=use_case(), waited_hours=80, escalation=True, leads=[lead]))
    assert "waited 3 days for <@URITA>'s review. <@ULEAD>" in text_of(body)


def test_status_lists_allowed_moves() -> None:
    body = blocks.build_status(use_case(status="approved", stage="experimentation"))
    assert_valid(body)
    assert "Can move to: production engineering, ideation, closed" in text_of(body)


def test_home_shows_mine_and_queue_within_limits() -> None:
    many = [use_case(id=i) for i in range(1, 80)]
    view = blocks.build_home(many, many)
    assert validate_view(view) == []
    shown = text_of(view["blocks"])
    assert "Your use cases" in shown and "Waiting for your review" in shown and "and 39 more" in shown


def test_intake_modal_new_and_edit() -> None:
    view = build_intake_modal(Draft(title="Forecast", problem="By hand"), ["Finance", "HR"], ctx=ModalContext())
    assert validate_view(view) == []
    assert view["callback_id"] == View.INTAKE and view["title"]["text"] == "New AI use case"
    ids = [b.get("block_id") for b in view["blocks"]]
    assert ids == [
        "title",
        "problem",
        "department",
        "benefit",
        "success_metric",
        "data_sources",
        "data_availability",
        "data_sensitivity",
        "people_affected",
        "autonomy",
        "target_date",
        "links",
    ]
    edit = build_intake_modal(
        Draft.of(use_case().submission()), ["Finance"], ctx=ModalContext(use_case_id=12), note="Rita asked for changes"
    )
    assert validate_view(edit) == []
    assert edit["callback_id"] == View.RESUBMIT and edit["title"]["text"] == "Edit use case #12"
    dept = next(b for b in edit["blocks"] if b.get("block_id") == "department")
    assert dept["element"]["initial_option"]["value"] == "Finance"
    free = build_intake_modal(Draft(), [], ctx=ModalContext())
    dept = next(b for b in free["blocks"] if b.get("block_id") == "department")
    assert dept["element"]["type"] == "plain_text_input"  # no departments yet: type one


def test_parse_intake_reports_errors_by_field() -> None:
    sub, errors = parse_intake({"title": {"value": {"type": "plain_text_input", "value": "ab"}}})
    assert sub is None
    assert errors["title"] == "Please write at least 3 characters."
    assert errors["problem"] == "Please fill this in." and errors["data_sensitivity"] == "Please fill this in."


def test_small_modals_fit_title_limits() -> None:
    for view in (
        build_reason_modal(Decision.REQUEST_CHANGES, 123456, 1, "x" * 300),
        build_reason_modal(Decision.REJECT, 7, 2, "t"),
        build_reassign_modal(123456, 1, "t", [RITA]),
        build_reassign_modal(123456, 1, "t", []),
        build_submitted_view(SubmitResult(use_case=use_case())),
        build_reason_form_modal(close_form(123456, "x" * 300, ends_review=True), View.CLOSE, 123456, 1),
        build_reason_form_modal(reopen_form(123456, "x" * 300, back_to_review=True), View.REOPEN, 123456),
    ):
        assert validate_view(view) == []
        assert len(view["title"]["text"]) <= 24
