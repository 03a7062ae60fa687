"""The command language is parsed once: the same words mean the same request on every surface.

And people are platform-neutral: a person may be known on several platforms, and is one person.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from bot.conversation import grammar as g
from bot.conversation.answers import helps
from handlers.console.admin import MENTIONS as CONSOLE
from handlers.console.admin import render as console_render
from handlers.console.people import console_ref
from handlers.slack.commands import MENTIONS as SLACK
from handlers.slack.commands import render as slack_render
from intake import hub, people, queries, submission
from intake.errors import HubError, NotAllowed
from intake.people import SYSTEM, PersonRef
from intake.schema import Stage, Submission
from storage.db import UnitOfWork
from storage.models import Identity, Person, UseCase
from tests.conftest import NOW
from tests.factories import ANSWERS, slack

UowFactory = Callable[[], UnitOfWork]


@pytest.mark.parametrize(
    ("slack_text", "console_text", "expected"),
    [
        ("reviewer add <@URITA|rita> forecasting, NLP", "reviewer add @rita forecasting, NLP",
         g.AddReviewer(slack("URITA", "rita"), ("forecasting", "nlp"))),
        ("skills add <@URITA|rita> nlp", "skills add @rita nlp",
         g.ChangeSkills(True, ("nlp",), slack("URITA", "rita"))),
        ("skills add time series, nlp", "skills add time series, nlp", g.ChangeSkills(True, ("time series", "nlp"))),
        ("away <@URITA> on", "away @rita on", g.SetAway(True, slack("URITA"))),
        ("away off", "away off", g.SetAway(False)),
        ("department add  Accounts   Payable", "department add  Accounts   Payable",
         g.AddDepartment("Accounts Payable")),
        ("guidelines set self_serve off", "guidelines set self_serve off", g.SetGuideline("self_serve", "off")),
        ("", "", g.Help(g.HUB)),
    ],
)
def test_hub_commands_mean_the_same_on_slack_and_in_the_console(
    slack_text: str, console_text: str, expected: g.Request
) -> None:
    on_slack = g.parse(g.HUB, slack_text, SLACK)
    in_console = g.parse(g.HUB, console_text, CONSOLE)
    assert on_slack == expected
    # The console names people by their console name; everything else is the same request.
    assert type(in_console) is type(expected)
    person = getattr(in_console, "person", None)
    assert person == (console_ref("rita") if getattr(expected, "person", None) else None)


def test_usecase_and_whoknows_words_are_typed_requests() -> None:
    assert g.parse(g.USECASE, "status #12", SLACK) == g.ShowStatus(12)
    assert g.parse(g.USECASE, "stage 12 production engineering", SLACK) == g.MoveStage(12, Stage.PRODUCTION_ENGINEERING)
    assert g.parse(g.USECASE, "Forecast invoices", SLACK) == g.OpenForm("Forecast invoices")
    assert g.parse(g.WHOKNOWS, "demand forecasting --from 6") == g.WhoKnows("demand forecasting", 5)
    assert g.parse(g.WHOKNOWS, "") == g.Help(g.WHOKNOWS)


@pytest.mark.parametrize(
    ("command", "text", "told"),
    [
        (g.HUB, "reviewer add forecasting", g.REVIEWER_ADD),
        (g.HUB, "away maybe", g.AWAY_USAGE),
        (g.USECASE, "stage 12 orbit", f"orbit is not a stage: {g.STAGE_NAMES}."),
        (g.USECASE, "stage 12", g.STAGE_USAGE),
        (g.USECASE, "status", g.STATUS_USAGE),
        (g.USECASE, "status ²", "'²' is not a use case id; ids look like #12."),
    ],
)
def test_a_malformed_command_is_told_the_usage_that_works(command: str, text: str, told: str) -> None:
    for mentions in (SLACK, CONSOLE):
        with pytest.raises(HubError) as refused:
            g.parse(command, text, mentions)
        assert refused.value.message == told


def test_help_comes_from_one_table_on_every_surface() -> None:
    for command, (_, usages) in g.HELP.items():
        shown_in_slack = slack_render(helps(command))
        shown_in_console = console_render(helps(command), dt.UTC)
        for usage in usages:
            assert f"`{usage.example.replace('<', '&lt;').replace('>', '&gt;')}`: {usage.does}" in shown_in_slack
            assert f"• {usage.example}: {usage.does}" in shown_in_console


def test_a_person_on_two_platforms_linked_by_a_lead_is_one_person(uow: UowFactory) -> None:
    with uow() as u:
        on_slack, _ = people.resolve_actor(u, slack("USAM", "sam"), now=NOW)
    with uow() as u:
        in_console, _ = people.resolve_actor(u, console_ref("sam"), now=NOW)
    with uow() as u:
        submission.submit_use_case(u, in_console, Submission.model_validate(ANSWERS), now=NOW)
    with uow() as u, pytest.raises(NotAllowed):
        people.link_people(u, on_slack, slack("USAM"), console_ref("sam"), now=NOW)
    with uow() as u:
        linked = people.link_people(u, SYSTEM, slack("USAM"), console_ref("sam"), now=NOW)
    assert linked.id == on_slack.person_id and linked.handles == {"slack": "USAM", "console": "sam"}
    with uow() as u:
        s = u.session
        assert s.scalar(select(func.count()).select_from(Person)) == 1
        assert s.scalar(select(UseCase.submitter_id)) == on_slack.person_id  # their use case came along
        assert queries.my_use_cases(u, people.resolve_actor(u, console_ref("sam"), now=NOW)[0])[0].title


def test_the_same_email_on_a_second_platform_joins_the_person_it_belongs_to(uow: UowFactory) -> None:
    with uow() as u:
        rita, _ = people.resolve_actor(u, PersonRef("slack", "URITA", "Rita", email="Rita@Example.com"), now=NOW)
        hub.add_reviewer(u, SYSTEM, slack("URITA"), skills=["nlp"], now=NOW)
    with uow() as u:  # Teams tells us her e-mail when she first writes to the bot there
        again, _ = people.resolve_actor(u, PersonRef("teams", "29:rita", "Rita Ng", "rita@example.com"), now=NOW)
    assert again.person_id == rita.person_id and again.is_reviewer
    assert again.handles == {"slack": "URITA", "teams": "29:rita"}
    with uow() as u:  # and a profile read that reports an e-mail someone else has links the two
        newcomer, _ = people.resolve_actor(u, console_ref("ritang"), now=NOW)
    with uow() as u:
        people.apply_profile(u, newcomer.person_id, None, None, "RITA@example.com")
    with uow() as u:
        assert u.session.scalar(select(func.count()).select_from(Person)) == 1
        handles = {(i.platform, i.external_id) for i in u.session.scalars(select(Identity))}
    assert handles == {("slack", "URITA"), ("teams", "29:rita"), ("console", "ritang")}
