"""Slack and the console are one product: every notice drawn on both, in the same words, with the same actions."""

from __future__ import annotations

import datetime as dt
import html
import re
from typing import Any, get_args

import pytest
from pydantic import BaseModel

from bot.expertise.models import ExpertResult
from handlers.console import render as console
from handlers.console.replies import render_status
from handlers.slack import blocks
from handlers.slack import chat as slack
from handlers.slack.ids import Action as SlackAction
from intake import notices
from intake.actions import BUTTONS, HUB_AUDIENCE, STRANGER, Action, Viewer, available_actions, notice_actions
from intake.notices import (
    Attachment,
    BudgetSpent,
    BusFactorNotice,
    Digest,
    DraftReady,
    DuplicateFlagged,
    DuplicatesFound,
    ExpertsAnswer,
    Files,
    Notice,
    Outcome,
    PortfolioChart,
    Presenter,
    Receipt,
    Refusal,
    Reopened,
    RetroPrompt,
    ReviewCard,
    ReviewNudge,
    SelfServeNotice,
    SharedProblem,
    Shipped,
    ShowcaseAgenda,
    ShowcaseInvitation,
    StageMoved,
    Unreachable,
    UpcomingShowcase,
    Withdrawn,
)
from intake.portfolio import Portfolio, PortfolioFilter, ServiceFigures, WeekFigure
from intake.read_models import Duplicate, Lesson, PersonView, ReviewView, UseCaseView
from intake.schema import Decision, Stage
from tests.factories import use_case_view

T0 = dt.datetime(2026, 11, 2, 9, 30, tzinfo=dt.UTC)
UTC = console.UTC
SAM = PersonView(id=1, name="Sam", handles={"slack": "USAM"})
RITA = PersonView(id=2, name="Rita", handles={"slack": "URITA"}, is_reviewer=True)
LEE = PersonView(id=3, name="Lee", handles={"slack": "ULEE"}, is_lead=True)
VIC = PersonView(id=4, name="Vic", is_reviewer=True)  # no Slack account: Slack shows the name
NAMES = {p.handles["slack"]: p.name for p in (SAM, RITA, LEE)}


def use_case(**over: Any) -> UseCaseView:
    return use_case_view(SAM, RITA, **over)


def decided(decision: Decision, reason: str | None = "Not this year.") -> UseCaseView:
    review = ReviewView(round=1, reviewer=RITA, decision=decision, reason=reason, decided_by=RITA, decided_at=T0)
    status = {
        "approve": "approved",
        "reject": "rejected",
        "request_changes": "changes_requested",
        "withdrawn": "withdrawn",
    }[decision.value]
    return use_case(review=review, status=status)


AWAY = RITA.model_copy(update={"away": True})
SAMPLES: dict[type, list[BaseModel]] = {
    ReviewCard: [
        ReviewCard(use_case=use_case(), matched_skills=["invoices"]),
        ReviewCard(use_case=use_case(reviewer=None, review=ReviewView(round=1))),
        ReviewCard(use_case=decided(Decision.REJECT)),
    ],
    SelfServeNotice: [SelfServeNotice(use_case=use_case(route="self_serve", status="self_serve", review=None))],
    Receipt: [Receipt(use_case=use_case()), Receipt(use_case=use_case(), resubmitted=True)],
    Outcome: [Outcome(use_case=decided(d)) for d in Decision],
    ReviewNudge: [
        ReviewNudge(use_case=use_case(), waited_hours=30),
        ReviewNudge(use_case=use_case(), waited_hours=80, escalation=True, leads=[LEE]),
        ReviewNudge(use_case=use_case(reviewer=AWAY), waited_hours=80, escalation=True, leads=[LEE, VIC]),
        ReviewNudge(use_case=use_case(reviewer=None), waited_hours=80, escalation=True),
    ],
    BusFactorNotice: [BusFactorNotice(topic="forecasting", expert=RITA)],
    StageMoved: [
        StageMoved(
            use_case=decided(Decision.APPROVE).model_copy(update={"stage": Stage.DEPLOYMENT}),
            from_stage=Stage.PRODUCTION_ENGINEERING,
            moved_by=LEE,
        ),
        StageMoved(
            use_case=decided(Decision.APPROVE).model_copy(update={"stage": Stage.CLOSED}),
            from_stage=Stage.EXPERIMENTATION,
            moved_by=LEE,
            reason="Finance runs it now.",
        ),
    ],
    Withdrawn: [
        Withdrawn(use_case=decided(Decision.WITHDRAWN).model_copy(update={"stage": Stage.CLOSED}), by=SAM),
        Withdrawn(use_case=decided(Decision.WITHDRAWN), by=LEE, reason="A duplicate of #9."),
    ],
    Reopened: [
        Reopened(use_case=use_case(), by=LEE, reason="The vendor came back."),
        Reopened(use_case=decided(Decision.APPROVE), by=LEE, reason="Back on the roadmap."),
    ],
    PortfolioChart: [
        PortfolioChart(
            title="Portfolio on 2026-11-02",
            at=T0,
            pipeline={"Finance": {Stage.IDEATION: 2}},
            trend=[WeekFigure(week=T0.date(), decisions=2, median_days=0.5)],
            alt="Live use cases by department and stage: Finance: 2 ideation.",
        )
    ],
    DuplicateFlagged: [
        DuplicateFlagged(
            use_case=use_case(id=15, department="Operations"),
            other=Duplicate(
                id=3,
                title="Forecast invoice volumes",
                department="Finance",
                stage=Stage.DEPLOYMENT,
                status="approved",
                owner=RITA,
                score=0.82,
            ),
            by=SAM,
        )
    ],
    DuplicatesFound: [
        DuplicatesFound(
            use_case=use_case(id=15, department="Operations"),
            duplicates=[
                Duplicate(
                    id=3,
                    title="Forecast invoice volumes",
                    department="Finance",
                    stage=Stage.DEPLOYMENT,
                    status="approved",
                    owner=RITA,
                    score=0.61,
                )
            ],
        )
    ],
    ExpertsAnswer: [
        ExpertsAnswer(
            result=ExpertResult(
                query="invoice forecasting",
                as_of=dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC),
                experts=[],
                total=0,
                bus_factor=0,
                single_expert=False,
            )
        )
    ],
    SharedProblem: [
        SharedProblem(
            departments=["Finance", "Legal", "Operations"],
            use_cases=[
                Duplicate(
                    id=3,
                    title="Forecast invoice volumes",
                    department="Finance",
                    stage=Stage.DEPLOYMENT,
                    status="approved",
                    owner=RITA,
                    score=1.0,
                ),
                Duplicate(
                    id=15,
                    title="Invoice forecasting",
                    department="Operations",
                    stage=Stage.IDEATION,
                    status="in_review",
                    owner=SAM,
                    score=0.7,
                    relation="same",
                ),
                Duplicate(
                    id=16,
                    title="Forecast invoices",
                    department="Legal",
                    stage=Stage.IDEATION,
                    status="self_serve",
                    owner=None,
                    score=0.6,
                ),
            ],
        )
    ],
    Digest: [
        Digest(
            title="Portfolio digest, Mon 02 Nov 2026",
            since=T0 - dt.timedelta(days=7),
            at=T0,
            new=2,
            decided=1,
            moved=0,
            view=Portfolio(
                at=T0,
                filter=PortfolioFilter(),
                total=2,
                by_stage={Stage.IDEATION: 2},
                by_department={"Finance": 2},
                by_status={},
                by_risk={},
                waiting=[],
                waiting_total=0,
                stale=[],
                stale_total=0,
                figures=ServiceFigures(dt.timedelta(days=90), 2, 1, None, None, None),
            ),
            shipped=[Shipped(use_case_id=12, title="Invoice triage", department="Finance", owner=SAM)],
            lessons=[
                Lesson(
                    use_case_id=12,
                    title="Invoice triage",
                    trigger="deployed",
                    by=SAM,
                    at=T0,
                    worked="a",
                    didnt="b",
                    differently="c",
                    metric_met="met",
                )
            ],
            showcases=[UpcomingShowcase(at=T0 + dt.timedelta(days=9), presenters=[Presenter(person=SAM)])],
        )
    ],
    Files: [Files(text="The hub's use cases on 2026-11-02.", files=[Attachment(name="a.csv", content="id\n1\n")])],
    RetroPrompt: [
        RetroPrompt(
            use_case=use_case(stage="deployment", status="approved"), trigger="deployed", why="it was deployed"
        ),
        RetroPrompt(use_case=use_case(status="rejected"), trigger="rejected", why="the hub rejected it", reminder=True),
    ],
    ShowcaseInvitation: [
        ShowcaseInvitation(invite_id=5, at=T0, use_case_id=12, title="Invoice triage"),
        ShowcaseInvitation(invite_id=6, at=T0, nominated_by=SAM),
    ],
    ShowcaseAgenda: [
        ShowcaseAgenda(
            at=T0, presenters=[Presenter(person=SAM, use_case_id=12, title="Invoice triage", department="Finance")]
        ),
        ShowcaseAgenda(at=T0, presenters=[], day_of=True),
    ],
    DraftReady: [
        DraftReady(
            draft_id=3,
            answers={"title": "Summarise calls", "problem": "Notes by hand."},
            questions=["What would show it worked?"],
            from_model=True,
            departments=["Finance"],
        ),
        DraftReady(draft_id=4, answers={"title": "Summarise calls"}),
    ],
    BudgetSpent: [BudgetSpent(budget=200_000, leads=[LEE])],
    Unreachable: [
        Unreachable(person=VIC, platform="teams", why="Vic has not talked to the bot on Teams yet", leads=[LEE]),
    ],
    Refusal: [
        Refusal(text="Rita already approved this.", at=T0),
        Refusal(text="Only hub reviewers can decide."),
        Refusal(text="Rita holds this review.", take_over=(12, 1)),
    ],
}
ALL = [n for samples in SAMPLES.values() for n in samples]


def notice_kinds() -> set[type]:
    """Every notice class the outbox can carry: the members of the `Notice` union."""
    union = get_args(Notice)[0]
    return set(get_args(union))


def slack_plain(mrkdwn: str) -> str:
    """What a Slack reader reads, formatting stripped: names for mentions, no icons, bold or code marks."""
    text = re.sub(r"<@(\w+)>", lambda m: NAMES[m.group(1)], mrkdwn)
    text = re.sub(r"<!date\^\d+\^[^|>]*\|([^>]*)>", r"\1", text)
    text = re.sub(r"^:[a-z0-9_]+: ", "", text, flags=re.MULTILINE)
    return html.unescape(re.sub(r"[*_`]", "", text))


def slack_words(notice: BaseModel) -> str:
    """The notice's own words on Slack (its lead, and its sections and small print after the use case's answers)."""
    _, body = slack.render(notice)  # type: ignore[arg-type]
    texts = [b["text"]["text"] for b in body if b["type"] == "section" and "text" in b]
    texts += [e["text"] for b in body if b["type"] == "context" for e in b["elements"]]
    return "\n".join(slack_plain(t) for t in texts)


def test_every_notice_kind_is_in_the_union_and_has_words_and_a_renderer_on_every_platform() -> None:
    declared = {
        obj
        for obj in vars(notices).values()
        if isinstance(obj, type) and issubclass(obj, BaseModel) and "kind" in obj.model_fields
    }
    assert declared == notice_kinds(), "a notice class is missing from the Notice union"
    for kind in notice_kinds():
        assert kind in notices.COMPOSE, f"no wording for {kind.__name__}"
        assert kind in slack.RENDER, f"no Slack renderer for {kind.__name__}"
        assert kind in console.RENDER, f"no console renderer for {kind.__name__}"
        assert SAMPLES.get(kind), f"no sample of {kind.__name__} in this test: add one"


@pytest.mark.parametrize("notice", ALL, ids=lambda n: n.kind)  # type: ignore[attr-defined]
def test_each_sample_renders_on_both_platforms(notice: BaseModel) -> None:
    text, _ = slack.render(notice)  # type: ignore[arg-type]
    assert text.strip()
    assert console.render_notice(notice, UTC).text().strip()  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "notice",
    [
        n
        for n in ALL
        if isinstance(n, ReviewNudge | Outcome | BusFactorNotice | Receipt | SelfServeNotice | Withdrawn | Reopened)
    ],
    ids=lambda n: n.kind,
)
def test_the_lead_sentence_reads_the_same_on_slack_and_console(notice: BaseModel) -> None:
    slack_lead = slack_words(notice).splitlines()[0]
    assert slack_lead == console.render_notice(notice, UTC).lines[0]  # type: ignore[arg-type]


def test_escalation_for_an_away_reviewer_asks_to_reassign_on_both() -> None:
    """It said "please reassign it" on Slack and "please decide or reassign" in the console."""
    notice = ReviewNudge(use_case=use_case(reviewer=AWAY), waited_hours=80, escalation=True, leads=[LEE])
    expected = "#12 Invoice triage has waited 3 days for Rita, who is away. Lee: please reassign it."
    assert slack_words(notice).splitlines()[0] == expected
    assert console.render_notice(notice, UTC).lines[0] == expected
    _, body = slack.render(notice)
    assert "<@URITA>, who is away. <@ULEE>: please reassign it." in body[0]["text"]["text"]


def test_escalation_without_a_reviewer_asks_to_pick_one_on_both() -> None:
    notice = ReviewNudge(use_case=use_case(reviewer=None), waited_hours=80, escalation=True, leads=[LEE])
    expected = "#12 Invoice triage has waited 3 days and has no reviewer yet. Lee: please pick one."
    assert slack_words(notice).splitlines()[0] == expected
    assert console.render_notice(notice, UTC).lines[0] == expected
    assert [b.action for b in console.render_notice(notice, UTC).buttons][-1] is Action.PICK_REVIEWER


def test_reject_outcome_reads_the_same_on_both() -> None:
    """The small print said "Reply in the hub channel, or talk to the reviewer" on Slack, "talk to them" here."""
    notice = Outcome(use_case=decided(Decision.REJECT, "Not this year.\nAsk again in Q2."))
    expected = (
        "#12 Invoice triage was rejected by Rita.\n> Not this year.\n> Ask again in Q2.\n"
        "Questions? Ask in the hub channel, or talk to Rita."
    )
    assert slack_words(notice) == expected
    assert console.render_notice(notice, UTC).text() == expected


@pytest.mark.parametrize("decision", list(Decision))
def test_every_outcome_reads_the_same_on_both(decision: Decision) -> None:
    notice = Outcome(use_case=decided(decision))
    assert slack_words(notice) == console.render_notice(notice, UTC).text().rsplit("\n[1]", 1)[0]


def test_a_person_without_a_slack_account_is_named_on_slack() -> None:
    notice = ReviewNudge(use_case=use_case(reviewer=AWAY), waited_hours=80, escalation=True, leads=[LEE, VIC])
    _, body = slack.render(notice)
    assert "<@ULEE>, Vic: please reassign it." in body[0]["text"]["text"]
    assert console.render_notice(notice, UTC).lines[0].endswith("Lee, Vic: please reassign it.")


# --- The action vocabulary ------------------------------------------------------------------------------------

DECIDE = [Action.APPROVE, Action.REQUEST_CHANGES, Action.REJECT]
IN_REVIEW = use_case()
CHANGES = decided(Decision.REQUEST_CHANGES, "Name the data owner.")


def slack_actions(uc: UseCaseView, viewer: Viewer) -> list[str]:
    """The action ids of every button, then every reviewer picker, on Slack's status view for `viewer`."""
    body = blocks.build_status(uc, viewer)
    found = [e["action_id"] for b in body if b["type"] == "actions" for e in b["elements"]]
    return found + [b["accessory"]["action_id"] for b in body if b.get("accessory", {}).get("type") == "users_select"]


def console_actions(uc: UseCaseView, viewer: Viewer) -> list[Action]:
    return [b.action for b in render_status(uc, UTC, viewer=viewer).buttons]


# What a lead may do with any open use case besides deciding: edit, close (with a reason), move it.
LEAD_MANAGES = [Action.EDIT, Action.CLOSE, Action.MOVE_STAGE]


def drawn(actions: list[Action]) -> tuple[list[str], list[Action]]:
    """What both renderers should draw for these actions: Slack ids, console buttons."""
    shown = [a for a in actions if a in BUTTONS]
    return [blocks.ACTION_IDS[a] for a in shown], shown


@pytest.mark.parametrize(
    ("viewer", "uc", "expected"),
    [
        pytest.param(STRANGER, IN_REVIEW, [], id="stranger"),
        pytest.param(Viewer(99), IN_REVIEW, [], id="someone else"),
        pytest.param(Viewer.of(RITA), IN_REVIEW, [*DECIDE, Action.REASSIGN], id="reviewer"),
        pytest.param(Viewer.of(LEE), IN_REVIEW, [*DECIDE, Action.REASSIGN, *LEAD_MANAGES], id="lead"),
        pytest.param(
            Viewer.of(SAM), IN_REVIEW, [Action.EDIT, Action.WITHDRAW, Action.MOVE_STAGE], id="owner in review"
        ),
        pytest.param(
            Viewer.of(SAM), CHANGES, [Action.EDIT_RESUBMIT, Action.CLOSE, Action.MOVE_STAGE], id="owner, changes asked"
        ),
        pytest.param(Viewer.of(RITA), CHANGES, [], id="reviewer after deciding"),
        pytest.param(
            Viewer(1, is_reviewer=True),
            IN_REVIEW,
            [Action.REASSIGN, Action.EDIT, Action.WITHDRAW, Action.MOVE_STAGE],
            id="own",
        ),
        pytest.param(
            Viewer.of(LEE),
            use_case(reviewer=None),
            [*DECIDE, Action.PICK_REVIEWER, *LEAD_MANAGES],
            id="lead, nobody assigned",
        ),
    ],
)
def test_what_each_person_may_do_is_decided_once_and_drawn_by_both(
    viewer: Viewer, uc: UseCaseView, expected: list[Action]
) -> None:
    assert list(available_actions(uc, viewer)) == expected
    slack_ids, console_buttons = drawn(expected)
    assert sorted(slack_actions(uc, viewer)) == sorted(slack_ids)  # Slack draws the reviewer picker on its own
    assert console_actions(uc, viewer) == console_buttons
    moves = "Can move to: experimentation"
    assert (moves in str(blocks.build_status(uc, viewer))) is (Action.MOVE_STAGE in expected)
    assert (moves in render_status(uc, UTC, viewer=viewer).text()) is (Action.MOVE_STAGE in expected)


def test_a_stranger_sees_no_decision_buttons_a_reviewer_decides_a_lead_reassigns_the_owner_resubmits() -> None:
    for platform in (slack_actions, console_actions):
        assert not platform(IN_REVIEW, STRANGER)
    decide = [SlackAction.APPROVE, SlackAction.REQUEST_CHANGES, SlackAction.REJECT]
    assert slack_actions(IN_REVIEW, Viewer.of(RITA))[:3] == decide
    assert console_actions(IN_REVIEW, Viewer.of(RITA))[:3] == DECIDE
    assert SlackAction.REASSIGN in slack_actions(IN_REVIEW, Viewer.of(LEE))
    assert Action.REASSIGN in console_actions(IN_REVIEW, Viewer.of(LEE))
    assert slack_actions(CHANGES, Viewer.of(SAM)) == [SlackAction.EDIT_RESUBMIT, SlackAction.CLOSE]
    assert console_actions(CHANGES, Viewer.of(SAM)) == [Action.EDIT_RESUBMIT, Action.CLOSE]
    # The owner of a waiting use case may edit or withdraw it, never decide on it.
    assert slack_actions(IN_REVIEW, Viewer.of(SAM)) == [SlackAction.EDIT, SlackAction.WITHDRAW]
    assert console_actions(IN_REVIEW, Viewer.of(SAM)) == [Action.EDIT, Action.WITHDRAW]


def test_cards_and_nudges_offer_the_hub_the_same_actions_on_both() -> None:
    for notice in [*SAMPLES[ReviewCard], *SAMPLES[ReviewNudge], *SAMPLES[Outcome]]:
        expected = list(notice_actions(notice))
        _, body = slack.render(notice)  # type: ignore[arg-type]
        ids = [e["action_id"] for b in body if b["type"] == "actions" for e in b["elements"]]
        ids += [b["accessory"]["action_id"] for b in body if b.get("accessory", {}).get("type") == "users_select"]
        assert sorted(ids) == sorted(drawn(expected)[0]), expected
        assert [b.action for b in console.render_notice(notice, UTC).buttons] == drawn(expected)[1]  # type: ignore[arg-type]


def test_the_hub_audience_is_offered_decisions_on_an_open_card() -> None:
    assert list(available_actions(IN_REVIEW, HUB_AUDIENCE))[:4] == [*DECIDE, Action.REASSIGN]


def test_every_button_in_the_vocabulary_has_one_slack_action_id() -> None:
    assert set(blocks.ACTION_IDS) == set(BUTTONS)
    assert len(set(blocks.ACTION_IDS.values())) == len(BUTTONS)


def test_a_refusal_for_a_review_held_by_another_offers_take_it_over_on_both() -> None:
    offered = Refusal(text="Rita holds this review.", take_over=(12, 1))
    _, body = slack.render(offered)
    buttons = [(e["action_id"], e["value"]) for b in body if b["type"] == "actions" for e in b["elements"]]
    assert buttons == [(SlackAction.TAKE_OVER, "12:1")]
    shown = console.render_notice(offered, UTC)
    assert [(b.label, b.action, b.use_case_id) for b in shown.buttons] == [("Take it over", Action.TAKE_OVER, 12)]
    assert not console.render_notice(Refusal(text="Only hub reviewers can decide."), UTC).buttons
