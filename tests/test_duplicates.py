"""Duplicates across departments at intake (issue 12, items 3 and 4): the spoke is told who to talk to before they
build, says whether it is the same, related or different, the reviewer reads it, the hub hears when three
departments work on one problem; and the hub's limits (work in progress, innovation share)."""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.core import Core
from bot.settings import Settings
from handlers.console.repl import run_console
from handlers.slack.ids import Action as SlackAction
from intake import duplicates, guidelines, hub, people, submission
from intake.errors import FieldErrors, NotAllowed
from intake.people import SYSTEM
from intake.portfolio import portfolio
from intake.portfolio_words import compose_portfolio
from intake.read_models import Actor, Relation
from intake.schema import Submission
from storage.db import UnitOfWork, make_engine, make_session_factory, upgrade
from storage.models import OutboxMessage, UseCaseLink
from tests.conftest import NOW, Scenario
from tests.factories import ANSWERS, intake_values, slack, slack_actor
from tests.fakes.signed import select as pick
from tests.fakes.signed import text_input

FORECAST = {
    **ANSWERS,
    "title": "Forecast invoice volumes",
    "problem": "We guess monthly invoice volumes by hand, so the accounts payable team is staffed wrong.",
}


def actor(sf: sessionmaker[Session], user_id: str, name: str, lead: bool = False) -> Actor:
    with UnitOfWork(sf) as u:
        return people.resolve_actor(u, slack(user_id, name), leads=frozenset({user_id}) if lead else None, now=NOW)[0]


def submit(sf: sessionmaker[Session], who: Actor, department: str, **over: Any) -> Any:
    sub = Submission.model_validate({**FORECAST, "department": department, **over})
    with UnitOfWork(sf) as u:
        return submission.submit_use_case(u, who, sub, now=NOW)


@pytest.fixture
def hub_people(session_factory: sessionmaker[Session]) -> dict[str, Actor]:
    with UnitOfWork(session_factory) as u:
        for name in ("Finance", "Operations", "Procurement", "Legal"):
            hub.add_department(u, SYSTEM, name, now=NOW)
    names = {"USAM": "Sam", "UOLA": "Ola", "UPIA": "Pia", "ULEX": "Lex"}
    who = {name: actor(session_factory, uid, name) for uid, name in names.items()}
    who["Lee"] = actor(session_factory, "ULEE", "Lee", lead=True)
    return who


@dataclasses.dataclass(frozen=True)
class Queued:
    channel: str | None
    person_id: int | None
    payload: dict[str, Any]


def queued(sf: sessionmaker[Session], kind: str) -> list[Queued]:
    with UnitOfWork(sf) as u:
        rows = u.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        return [Queued(m.channel, m.person_id, m.payload) for m in rows if m.payload.get("kind") == kind]


def test_a_spoke_is_told_who_to_talk_to_in_other_departments_and_never_about_their_own(
    session_factory: sessionmaker[Session], hub_people: dict[str, Actor]
) -> None:
    sf, who = session_factory, hub_people
    first = submit(sf, who["Sam"], "Finance")
    assert first.duplicates == []
    same_department = submit(sf, who["Sam"], "Finance", title="Forecast invoice volumes by week")
    assert same_department.duplicates == []  # Finance's own: not a duplicate across departments

    found = submit(sf, who["Ola"], "Operations").duplicates

    assert [(d.id, d.department, d.owner.name if d.owner else None) for d in found][:1] == [(1, "Finance", "Sam")]
    assert all(d.department == "Finance" and d.relation is Relation.LIKELY for d in found)
    receipt = queued(sf, "receipt")[-1].payload
    assert [d["id"] for d in receipt["duplicates"]] == [d.id for d in found]


def test_same_tells_the_other_owner_and_different_needs_why_which_the_reviewer_reads(
    session_factory: sessionmaker[Session], hub_people: dict[str, Actor]
) -> None:
    sf, who = session_factory, hub_people
    with UnitOfWork(sf) as u:
        hub.add_reviewer(u, SYSTEM, slack("URITA", "Rita"), skills=[], now=NOW)
    submit(sf, who["Sam"], "Finance")
    ops = submit(sf, who["Ola"], "Operations", data_sensitivity="personal").use_case.id  # in review

    with UnitOfWork(sf) as u, pytest.raises(NotAllowed):
        duplicates.answer_duplicate(u, who["Pia"], ops, 1, Relation.SAME, now=NOW)
    with UnitOfWork(sf) as u, pytest.raises(FieldErrors) as blank:
        duplicates.answer_duplicate(u, who["Ola"], ops, 1, Relation.DIFFERENT, "  ", now=NOW)
    assert blank.value.errors == {"reason": "Say what makes it different: the reviewer reads it."}
    with UnitOfWork(sf) as u:
        duplicates.answer_duplicate(u, who["Ola"], ops, 1, Relation.SAME, now=NOW)
    told = queued(sf, "duplicate_flagged")
    assert [m.person_id for m in told] == [who["Sam"].person_id]
    with UnitOfWork(sf) as u:
        duplicates.answer_duplicate(u, who["Ola"], ops, 1, Relation.DIFFERENT, "Ours is for the warehouse.", now=NOW)
        link = u.session.scalar(select(UseCaseLink).where(UseCaseLink.use_case_id == ops))
        assert link is not None and (link.relation, link.reason) == ("different", "Ours is for the warehouse.")

    # The reviewer's card, posted at submission, lists the duplicate; a later card reads the answer.
    card = next(m.payload for m in queued(sf, "review_card") if m.payload["use_case"]["id"] == ops)
    assert card["duplicates"][0]["id"] == 1
    from intake.notices import ReviewCard, compose
    from intake.read_models import UseCaseView

    with UnitOfWork(sf) as u:
        fresh = ReviewCard(use_case=UseCaseView.model_validate(card["use_case"]),
                           duplicates=duplicates.duplicates_of(u.session, ops))
    words = " ".join(str(p) for para in compose(fresh).rest for p in para.parts)
    assert "different, says the submitter" in words and "Ours is for the warehouse." in words


def test_the_hub_hears_once_when_three_departments_work_on_one_problem(
    session_factory: sessionmaker[Session], hub_people: dict[str, Actor]
) -> None:
    sf, who = session_factory, hub_people
    submit(sf, who["Sam"], "Finance")
    submit(sf, who["Ola"], "Operations")
    assert queued(sf, "shared_problem") == []  # two departments: a duplicate, not yet a platform
    submit(sf, who["Pia"], "Procurement")
    told = queued(sf, "shared_problem")
    assert len(told) == 1 and told[0].channel == "hub"
    assert told[0].payload["departments"] == ["Finance", "Operations", "Procurement"]
    submit(sf, who["Lex"], "Legal")
    assert len(queued(sf, "shared_problem")) == 1  # once per cluster


def test_over_the_wip_limit_the_spoke_is_told_and_the_portfolio_shows_the_limits(
    session_factory: sessionmaker[Session], hub_people: dict[str, Actor]
) -> None:
    sf, who = session_factory, hub_people
    with UnitOfWork(sf) as u:
        guidelines.set_guideline(u, who["Lee"], "wip_limit", "1", now=NOW)
    with UnitOfWork(sf) as u:
        guidelines.set_guideline(u, who["Lee"], "innovation_band", "10-20", now=NOW)
    assert submit(sf, who["Sam"], "Finance").over_wip is None
    second = submit(sf, who["Ola"], "Legal", title="Summarise contracts", problem="Lawyers read long contracts.")
    assert second.over_wip == (
        "The hub has 2 use cases in active stages, over its limit of 1: its reviews and support may take longer "
        "than usual."
    )
    with UnitOfWork(sf) as u:
        message = compose_portfolio(portfolio(u, now=NOW))
    words = " ".join(getattr(p, "text", "") for para in message.rest for p in para.parts)
    assert "work in progress 2 in active stages, limit 1 — over the limit" in words
    assert "Innovation: 100% of 2 use cases live still experimental (target 10-20%) — outside the target." in words
    with UnitOfWork(sf) as u, pytest.raises(Exception, match="takes a number"):
        guidelines.set_guideline(u, who["Lee"], "wip_limit", "many", now=NOW)


def test_on_slack_the_receipt_asks_same_related_or_different_and_the_answers_are_kept(scenario: Scenario) -> None:
    sc = scenario
    sam, ola = sc.user("USAM", "sam"), sc.user("UOLA", "ola")
    lead = slack_actor(sc.app.core, "ULEAD", "lee")[0]
    for name in ("Finance", "Operations"):
        sc.app.core.run(hub.add_department, lead, name)

    def view(n: int) -> dict[str, Any]:
        raw = sc.api.wait_for("views.open", n)[n - 1].params["view"]
        return json.loads(raw) if isinstance(raw, str) else raw

    low = {"data_sensitivity": pick("internal", "radio_buttons")}
    sc.slack.command(sam, "/usecase", "Forecast invoice volumes")
    sc.slack.submit_view(sam, view(1), intake_values(**low))
    sc.slack.command(ola, "/usecase", "Forecast invoice volumes")
    saved = sc.slack.submit_view(ola, view(2), intake_values(department=pick("Operations"), **low)).json()
    assert "Other departments have something like it" in json.dumps(saved)
    assert "#1" in json.dumps(saved) and "talk to <@USAM>" in json.dumps(saved)

    receipt = sc.api.wait_for_text("chat.postMessage", "Is #1 Forecast invoice volumes (Finance) the same as yours?")
    assert receipt
    sc.slack.click(ola, SlackAction.SAME_AS, "2:1", channel="DOLA")
    assert "is the same as" in sc.api.wait_for_hook("is the same as")
    told = sc.api.wait_for_text("chat.postMessage", "is the same as your")
    assert "<@UOLA>" in told and "(Operations) says" in told

    sc.slack.click(ola, SlackAction.DIFFERENT, "2:1", channel="DOLA")
    different = view(3)
    assert different["callback_id"] == "hubspoke_different"
    refused = sc.slack.submit_view(ola, different, {"reason": text_input(" ")}).json()
    assert refused["response_action"] == "errors" and "reason" in refused["errors"]
    sc.slack.submit_view(ola, different, {"reason": text_input("Ours forecasts warehouse volumes.")})
    with UnitOfWork(sc.app.core.session_factory) as u:
        link = u.session.scalar(select(UseCaseLink).where(UseCaseLink.use_case_id == 2))
        assert link is not None and (link.relation, link.reason) == ("different", "Ours forecasts warehouse volumes.")


def test_in_the_console_the_receipt_offers_the_same_answers(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    upgrade(url)
    engine = make_engine(url)
    core = Core(settings=Settings(_env_file=None, database_url=url), session_factory=make_session_factory(engine),
                clock=lambda: NOW)
    form = (
        "/usecase Forecast invoice volumes\n\nWe guess monthly invoice volumes by hand, so AP is staffed wrong.\n"
        "{dept}\nRight-sized team\nLate payments down 30% by Q3\nERP invoice history\n1\n2\n1\n1\n\n\n"
    )
    script = (
        "/hub department add Finance\n/hub department add Operations\n/as sam\n" + form.format(dept=1)
        + "/as ola\n" + form.format(dept=2) + "1\n"
    )
    out = io.StringIO()
    assert run_console(core, io.StringIO(script), out, name="lee", interactive=False) == 0
    text = out.getvalue()
    engine.dispose()
    assert "[1] Same as #1  [2] Related to #1  [3] Different from #1…" in text
    assert "Noted: #2 is the same as #1 Forecast invoice volumes (Finance). Sam was told, so you can talk." in text
    assert "[DM to Sam] Ola (Operations) says #2 Forecast invoice volumes is the same as your #1" in text


def test_the_portfolio_lists_each_likely_pair_once(
    session_factory: sessionmaker[Session], hub_people: dict[str, Actor]
) -> None:
    sf, who = session_factory, hub_people
    submit(sf, who["Sam"], "Finance")
    submit(sf, who["Ola"], "Operations")
    with UnitOfWork(sf) as u:
        view = portfolio(u, now=NOW)
    assert [(p.id, p.other_id, p.department, p.other_department) for p in view.duplicates] == [
        (2, 1, "Operations", "Finance")
    ]
    words = " ".join(getattr(p, "text", "") for para in compose_portfolio(view).rest for p in para.parts)
    assert "Likely duplicates across departments" in words and "(Operations) and " in words


def test_a_scan_finds_the_duplicates_of_an_imported_register_without_telling_anyone(
    session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    from intake.register import build_mapping, import_register, read_table

    register = tmp_path / "register.csv"
    register.write_text(
        "id,title,department,problem\n"
        "1,Forecast invoice volumes,Finance,We guess monthly invoice volumes by hand and staff AP wrong.\n"
        "2,Forecast invoice volumes,Operations,Invoice volumes are guessed by hand every month.\n"
        "3,Forecast invoice volumes,Procurement,We guess invoice volumes by hand each month.\n"
        "4,Summarise contracts,Legal,Lawyers read long contracts.\n",
        encoding="utf-8",
    )
    with UnitOfWork(session_factory) as u:
        import_register(u, read_table(register), build_mapping(None, [], default_source="register"), now=NOW)
    with UnitOfWork(session_factory) as u:
        checked, linked, clusters = duplicates.scan_all(u, now=NOW)
    assert (checked, linked, clusters) == (4, 3, 3)
    assert queued(session_factory, "shared_problem") == [] and queued(session_factory, "duplicate_flagged") == []
