"""Console renderers, tested directly: what a person reads in the terminal, and which numbers click what."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any
from zoneinfo import ZoneInfo

from bot.chat import Posted, Recipient
from handlers.console.chat import ConsoleChat, Screen
from handlers.console.render import (
    ButtonAction,
    Rendered,
    clean,
    message,
    render_card_update,
    render_notice,
    render_review_card,
    when,
)
from handlers.console.replies import render_home, render_list, render_status
from intake.actions import Viewer
from intake.notices import HUB, Outcome, Receipt, ReviewCard, ReviewNudge, SelfServeNotice
from intake.read_models import Change, PersonView, ReviewView, UseCaseView
from intake.schema import Decision
from tests.factories import use_case_view

T0 = dt.datetime(2026, 11, 2, 9, 30, tzinfo=dt.UTC)
UTC = ZoneInfo("UTC")
PARIS = ZoneInfo("Europe/Paris")
SAM = PersonView(id=1, name="Sam")
RITA = PersonView(id=2, name="Rita", is_reviewer=True, tz="Europe/Paris")
LEE = PersonView(id=3, name="Lee", is_lead=True)


def use_case(**over: Any) -> UseCaseView:
    return use_case_view(SAM, RITA, **over)


def decided(decision: Decision, reason: str | None = None, **over: Any) -> UseCaseView:
    review = ReviewView(
        round=1, reviewer=RITA, decision=decision, reason=reason, decided_by=RITA, decided_at=T0 + dt.timedelta(hours=1)
    )
    status = {"approve": "approved", "reject": "rejected", "request_changes": "changes_requested"}[decision.value]
    return use_case(review=review, status=status, **over)


def test_review_card_shows_the_answers_and_numbers_its_buttons() -> None:
    card = render_review_card(ReviewCard(use_case=use_case(), matched_skills=["invoices"]), UTC)
    text = card.text()
    assert text.splitlines()[0] == "Review #12: Invoice triage"
    assert "Problem: Invoices wait days for routing." in text
    assert "Department: Finance · Submitted by: Sam · Risk: Medium" in text
    assert "Reviewer: Rita (knows invoices)" in text
    assert "Data: Personal data · available now · ERP" in text
    assert "Target date: 2027-03-01" in text and "Links: https://wiki.example/x" in text
    assert "Why: Medium: uses personal data" in text
    assert text.splitlines()[-1] == "[1] Approve  [2] Request changes  [3] Reject  [4] Reassign"
    assert [b.action for b in card.buttons] == [
        ButtonAction.APPROVE,
        ButtonAction.REQUEST_CHANGES,
        ButtonAction.REJECT,
        ButtonAction.REASSIGN,
    ]
    assert all(b.use_case_id == 12 and b.round == 1 for b in card.buttons)


def test_a_card_nobody_could_take_asks_the_hub_to_pick_a_reviewer() -> None:
    card = render_review_card(ReviewCard(use_case=use_case(reviewer=None, review=ReviewView(round=1))), UTC)
    assert "Reviewer: nobody yet" in card.text()
    assert "No reviewer is available for this one. Hub, pick a reviewer." in card.text()
    assert card.buttons[-1].label == "Pick a reviewer" and card.buttons[-1].action is ButtonAction.PICK_REVIEWER


def test_a_decided_card_says_who_when_and_why_in_the_readers_zone_and_has_no_buttons() -> None:
    card = render_review_card(ReviewCard(use_case=decided(Decision.REJECT, "Not this year.\nAsk again in Q2.")), PARIS)
    assert "Rejected by Rita on Mon 2 Nov 2026 11:30 CET" in card.text()
    assert "> Not this year.\n> Ask again in Q2." in card.text()
    assert card.buttons == () and card.closes
    update = render_card_update(ReviewCard(use_case=decided(Decision.APPROVE)), UTC)
    assert update.text() == "Review #12: Invoice triage (updated)\nApproved by Rita on Mon 2 Nov 2026 10:30 UTC"


def test_a_resubmitted_card_lists_what_changed() -> None:
    changes = [Change(field="Problem", before="Slow", after="Slow and costly")]
    card = render_review_card(
        ReviewCard(use_case=use_case(review=ReviewView(round=2, reviewer=RITA, changes=changes))), UTC
    )
    assert card.lines[0] == "Review #12 (round 2): Invoice triage"
    assert "Changed since round 1:\n• Problem: Slow → Slow and costly" in card.text()
    assert card.buttons[0].round == 2


def test_outcomes_tell_the_submitter_what_next() -> None:
    approved = render_notice(Outcome(use_case=decided(Decision.APPROVE, "Go ahead.")), UTC).text()
    assert approved.startswith("#12 Invoice triage was approved by Rita.\n> Go ahead.\n")
    assert "/usecase stage 12 experimentation" in approved and "Measure: Routing time -50%" in approved
    rejected = render_notice(Outcome(use_case=decided(Decision.REJECT, "Not this year.")), UTC)
    assert rejected.text().startswith("#12 Invoice triage was rejected by Rita.\n> Not this year.")
    assert rejected.buttons == ()
    changes = render_notice(Outcome(use_case=decided(Decision.REQUEST_CHANGES, "Name the data owner.")), UTC)
    assert changes.text().startswith("Rita asked for changes on #12 Invoice triage:\n> Name the data owner.")
    assert changes.text().endswith("[1] Edit and resubmit")
    assert changes.buttons[0].action is ButtonAction.EDIT_RESUBMIT


def test_receipts_and_self_serve_notices() -> None:
    review = render_notice(Receipt(use_case=use_case()), UTC).text()
    assert review.startswith("Saved. #12 Invoice triage went to hub review (Medium risk), assigned to Rita.")
    assert "/usecase status 12" in review
    again = render_notice(Receipt(use_case=use_case(), resubmitted=True), UTC).text()
    assert again.startswith("Resubmitted. #12 Invoice triage is back with hub review")
    easy = use_case(route="self_serve", status="self_serve", risk_tier="low", reviewer=None, review=None)
    assert "can go ahead self-serve (low risk)" in render_notice(Receipt(use_case=easy), UTC).text()
    notice = render_notice(SelfServeNotice(use_case=easy), UTC).text()
    assert notice.startswith("Self-serve: #12 Invoice triage from Finance is going ahead (low risk), submitted by Sam.")
    assert "Route: self-serve" in notice


def test_nudges_remind_the_reviewer_and_escalate_to_the_leads() -> None:
    remind = render_notice(ReviewNudge(use_case=use_case(), waited_hours=30), UTC)
    assert remind.lines[0] == "#12 Invoice triage has waited 30 hours for your review."
    assert remind.buttons[0].label == "Approve"
    escalate = render_notice(ReviewNudge(use_case=use_case(), waited_hours=80, escalation=True, leads=[LEE]), UTC)
    assert (
        escalate.lines[0] == "#12 Invoice triage has waited 3 days for Rita's review. Lee: please decide or reassign."
    )


def test_user_text_is_shown_as_typed_without_terminal_control_codes() -> None:
    assert clean("<!channel> *bold* & \x1b[31mred\x1b[0m\x07") == "<!channel> *bold* & [31mred[0m"
    card = render_review_card(ReviewCard(use_case=use_case(title="Ping <!channel> \x1b]0;pwned\x07")), UTC)
    assert card.lines[0] == "Review #12: Ping <!channel> ]0;pwned"


def test_messages_show_their_destination_and_indent_the_rest() -> None:
    assert message("#hub", Rendered(("One", "Two", "", "Three"))) == "[#hub] One\n    Two\n\n    Three"
    assert when(T0, ZoneInfo("America/New_York")) == "Mon 2 Nov 2026 04:30 EST"


def test_console_chat_prints_dms_in_the_readers_zone_and_tracks_the_last_buttons() -> None:
    out = io.StringIO()
    screen = Screen(out)
    chat = ConsoleChat(screen, lambda tz: ZoneInfo(tz) if tz else UTC)
    card = ReviewCard(use_case=use_case())
    hub_post = chat.post(card, channel=HUB)
    dm_post = chat.post(card, to=Recipient(person_id=2, name="Rita"))
    assert hub_post.channel == "hub" and dm_post.channel == "dm:2:Rita"
    assert screen.buttons and screen.buttons[2].label == "Reject"
    chat.update(hub_post, ReviewCard(use_case=decided(Decision.REJECT, "No.")))
    chat.update(Posted(dm_post.channel, dm_post.ts), ReviewCard(use_case=decided(Decision.REJECT, "No.")))
    lines = out.getvalue().splitlines()
    assert lines[0] == "[#hub] Review #12: Invoice triage"
    assert "[DM to Rita] Review #12: Invoice triage (same as above)" in lines
    assert "[#hub] Review #12: Invoice triage (updated)" in lines
    assert "    Rejected by Rita on Mon 2 Nov 2026 10:30 UTC" in lines  # the hub channel reads hub time
    assert "[DM to Rita] Review #12: Invoice triage (updated)" in lines
    assert "    Rejected by Rita on Mon 2 Nov 2026 11:30 CET" in lines  # Rita reads her own zone
    assert screen.buttons == ()  # the decided card took its buttons away


def test_status_offers_buttons_only_to_people_who_may_click_them() -> None:
    uc = use_case()
    stranger = render_status(uc, UTC)
    assert stranger.buttons == () and "Can move to" not in stranger.text()
    status = render_status(uc, UTC, can_decide=True)
    assert [b.label for b in status.buttons] == ["Approve", "Request changes", "Reject", "Reassign"]
    assert "Lifecycle: [Ideation] → Experimentation → Production engineering" in status.text()
    assert "Can move to" not in status.text()  # a reviewer decides; the owner or a lead moves it
    moves = "Can move to: experimentation, closed (/usecase stage 12 experimentation)"
    assert moves in render_status(uc, UTC, viewer=Viewer.of(LEE)).text()
    owner = render_status(uc, UTC, is_submitter=True)
    assert [b.label for b in owner.buttons] == ["Edit", "Withdraw"] and moves in owner.text()
    changes = decided(Decision.REQUEST_CHANGES, "More detail.")
    assert [b.label for b in render_status(changes, UTC, is_submitter=True).buttons] == ["Edit and resubmit", "Close"]
    assert render_status(changes, UTC, can_decide=True).buttons == ()


def test_lists_and_home() -> None:
    assert render_list([], "Your use cases", "None yet.").text() == "Your use cases\nNone yet."
    listed = render_list([use_case(), use_case(id=13, title="Other")], "Your use cases", "None yet.").text()
    assert "#13 Other: In hub review · Ideation · Medium risk" in listed
    home = render_home(RITA, [], [use_case()], UTC).text()
    assert "Waiting for your review\n#12 Invoice triage · Finance · from Sam · since Mon 2 Nov 2026 09:30 UTC" in home
