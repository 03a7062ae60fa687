"""One product on every surface: the same dialog, on Slack over signed HTTP and in the console, ends the same.

A lead sets the hub up (and gives a reviewer a skill by mentioning them), a spoke submits a low-
and a high-risk use case, a stranger tries to decide, the reviewer asks for changes, the spoke
edits and resubmits, the reviewer approves, the owner moves it on, someone asks who knows. The
stored use cases, reviews, skills, suggestions and audit trail must be the same on both.
"""

from __future__ import annotations

import io
import json
import time
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.core import Core
from bot.settings import Settings
from handlers.console.repl import run_console
from handlers.slack.ids import Action
from storage.db import UnitOfWork
from storage.models import AuditEvent, ExpertAsk, Person, PersonSkill, Review, UseCase
from tests.conftest import NOW, Scenario
from tests.factories import intake_values
from tests.fakes.signed import select as pick
from tests.fakes.signed import text_input

EDITED_PROBLEM = "Finance guesses invoice volumes by hand; the data owner is the AP lead."
REASON = "Name the data owner."


def outcomes(factory: sessionmaker[Session]) -> dict[str, Any]:
    """What the dialog left behind, in words that do not depend on the surface (names case-folded)."""
    with UnitOfWork(factory) as uow:
        s = uow.session
        names = {p.id: p.name.casefold() for p in s.scalars(select(Person))}
        use_cases = [
            (uc.id, uc.title, uc.problem, uc.status, uc.stage, uc.risk_tier, uc.route, names.get(uc.reviewer_id or 0))
            for uc in s.scalars(select(UseCase).order_by(UseCase.id))
        ]
        reviews = [
            (r.use_case_id, r.round, r.decision, r.reason, names.get(r.decided_by_id or 0))
            for r in s.scalars(select(Review).order_by(Review.use_case_id, Review.round))
        ]
        skills = sorted((names[k.person_id], k.skill) for k in s.scalars(select(PersonSkill)))
        suggested = sorted({names[a.person_id] for a in s.scalars(select(ExpertAsk))})
        # "lead_added" is how a console's first person becomes lead; Slack's leads are configured.
        audit = [
            (e.action, names.get(e.actor_id or 0), e.use_case_id)
            for e in s.scalars(select(AuditEvent).order_by(AuditEvent.id))
            if e.action != "lead_added"
        ]
        roles = sorted((n, p.is_reviewer, p.is_lead) for p in s.scalars(select(Person)) if (n := p.name.casefold()))
    return {
        "use_cases": use_cases,
        "reviews": reviews,
        "skills": skills,
        "suggested": suggested,
        "audit": audit,
        "roles": roles,
    }


def slack_dialog(sc: Scenario) -> None:
    lee, sam, rita, otto = (sc.user(u, n) for u, n in (("ULEAD", "lee"), ("USAM", "sam"), ("URITA", "rita"),
                                                       ("UOTTO", "otto")))

    def ok(r: Any) -> str:
        assert r.status_code == 200, r.text
        return json.dumps(r.json()) if r.text else ""

    def view(n: int) -> dict[str, Any]:
        calls = sc.api.wait_for("views.open", n)
        raw = calls[n - 1].params["view"]
        return json.loads(raw) if isinstance(raw, str) else raw

    ok(sc.slack.command(lee, "/hub", "department add Finance"))
    ok(sc.slack.command(lee, "/hub", "reviewer add <@URITA|rita> forecasting"))
    assert "nlp" in ok(sc.slack.command(lee, "/hub", "skills add <@URITA|rita> nlp"))

    ok(sc.slack.command(sam, "/usecase", "Summarise support tickets"))
    ok(sc.slack.submit_view(sam, view(1), intake_values(
        title=text_input("Summarise support tickets"), data_sensitivity=pick("internal", "radio_buttons"))))
    ok(sc.slack.command(sam, "/usecase", "Forecast invoice volumes"))
    ok(sc.slack.submit_view(sam, view(2), intake_values()))

    sc.slack.click(otto, Action.APPROVE, "2:1")
    assert "Only hub reviewers can decide" in sc.api.wait_for_hook("Only hub reviewers can decide")

    sc.slack.click(rita, Action.REQUEST_CHANGES, "2:1")
    ok(sc.slack.submit_view(rita, view(3), {"reason": text_input(REASON)}))
    sc.slack.click(sam, Action.EDIT_RESUBMIT, "2", channel="DSAM")
    ok(sc.slack.submit_view(sam, view(4), intake_values(problem=text_input(EDITED_PROBLEM))))
    sc.slack.click(rita, Action.APPROVE, "2:2")
    wait_until(lambda: decided(sc.app.core.session_factory, 2, 2))

    assert "is now in *experimentation*" in ok(sc.slack.command(sam, "/usecase", "stage 2 experimentation"))
    ok(sc.slack.command(otto, "/whoknows", "forecasting"))


def console_dialog(core: Core) -> str:
    submit = (
        "/usecase {title}\n\n"  # keep the title, keep the problem typed into /usecase
        "Finance guesses monthly invoice volumes by hand and staffs the team wrong.\n"
        "1\nRight-sized team, fewer late payments\nLate payments down 30% by Q3\nERP invoice history\n"
        "1\n{sensitivity}\n1\n1\n\n\n"
    )
    script = (
        "/hub department add Finance\n/hub reviewer add @rita forecasting\n/hub skills add @rita nlp\n"
        "/as sam\n"
        + submit.format(title="Summarise support tickets", sensitivity=2)
        + submit.format(title="Forecast invoice volumes", sensitivity=3)
        + "/as otto\n/usecase status 2\n1\n"  # a stranger sees no buttons to click
        + f"/as rita\n2\n{REASON}\n"
        + "/as sam\n1\n\n" + EDITED_PROBLEM + "\n" + "\n" * 10
        + "/as rita\n1\n"
        + "/as sam\n/usecase stage 2 experimentation\n"
        + "/as otto\n/whoknows forecasting\n"
    )
    out = io.StringIO()
    assert run_console(core, io.StringIO(script), out, name="lee", interactive=False) == 0
    return out.getvalue()


def decided(factory: sessionmaker[Session], use_case_id: int, round_: int) -> bool:
    with UnitOfWork(factory) as uow:
        review = uow.session.scalar(
            select(Review).where(Review.use_case_id == use_case_id, Review.round == round_)
        )
        return review is not None and review.decision is not None


def wait_until(condition: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the durable work the click recorded never ran"
        time.sleep(0.05)


def test_the_same_dialog_ends_the_same_on_slack_and_in_the_console(
    scenario: Scenario, tmp_path: Any
) -> None:
    slack_dialog(scenario)
    on_slack = outcomes(scenario.app.core.session_factory)

    from storage.db import make_engine, make_session_factory, upgrade

    url = f"sqlite:///{tmp_path / 'console.db'}"
    upgrade(url)
    engine = make_engine(url)
    core = Core(settings=Settings(_env_file=None, database_url=url), session_factory=make_session_factory(engine),
                clock=lambda: NOW)
    shown = console_dialog(core)
    in_console = outcomes(core.session_factory)
    engine.dispose()

    assert "Rita now lists: forecasting, nlp." in shown  # not "@rita nlp" as a skill of the lead's own
    assert in_console["skills"] == [("rita", "forecasting"), ("rita", "nlp")]
    assert in_console["use_cases"] == [
        (1, "Summarise support tickets", in_console["use_cases"][0][2], "self_serve", "ideation", "low",
         "self_serve", None),
        (2, "Forecast invoice volumes", EDITED_PROBLEM, "approved", "experimentation", "medium", "hub_review", "rita"),
    ]
    assert in_console["reviews"] == [
        (2, 1, "request_changes", REASON, "rita"),
        (2, 2, "approve", None, "rita"),
    ]
    assert in_console["suggested"] == ["rita", "sam"]  # the reviewer, and the spoke who submitted one
    assert in_console["audit"] == [
        ("department_added", "lee", None), ("reviewer_added", "lee", None), ("skills_added", "lee", None),
        ("submitted", "sam", 1), ("submitted", "sam", 2), ("decision:request_changes", "rita", 2),
        ("resubmitted", "sam", 2), ("decision:approve", "rita", 2), ("stage", "sam", 2),
    ]
    for key in ("use_cases", "reviews", "skills", "suggested", "audit", "roles"):
        assert on_slack[key] == in_console[key], f"{key} differ between Slack and the console"
