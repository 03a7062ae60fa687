"""Leads are managed in the hub itself; HUB_LEADS only bootstraps them (issue 9, item 3)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.conversation import grammar as g
from bot.core import Core
from handlers.console.people import console_ref
from intake import hub, people
from intake.errors import HubError
from intake.people import SYSTEM
from storage.db import UnitOfWork
from storage.models import Person
from tests.conftest import NOW, Scenario
from tests.factories import slack
from tests.test_cli import hubspoke
from tests.test_console import console, core  # noqa: F401  (core is a fixture)


def said(r: Any) -> str:
    assert r.status_code == 200, r.text
    return json.dumps(r.json())


def test_a_lead_adds_and_removes_leads_in_slack(scenario: Scenario) -> None:
    sc = scenario
    lee, ana = sc.user("ULEAD", "lee"), sc.user("UANA", "ana")
    assert "is a hub lead" in said(sc.slack.command(lee, "/hub", "lead add <@UANA|ana>"))
    assert "Department *Legal* added" in said(sc.slack.command(ana, "/hub", "department add Legal"))
    assert "<@UANA>" in said(sc.slack.command(ana, "/hub", "lead list"))
    # HUB_LEADS keeps a configured lead a lead: removing them in the hub is refused, with where to do it.
    assert "listed in HUB_LEADS" in said(sc.slack.command(ana, "/hub", "lead remove <@ULEAD>"))
    assert "is no longer a hub lead" in said(sc.slack.command(lee, "/hub", "lead remove <@UANA>"))
    assert "Only hub leads" in said(sc.slack.command(ana, "/hub", "department add Tax"))
    with UnitOfWork(sc.app.core.session_factory) as u:
        names = {p.name: p.is_lead for p in u.session.scalars(select(Person))}
    assert names == {"lee": True, "ana": False}


def test_the_last_lead_cannot_be_removed(uow: Callable[[], UnitOfWork]) -> None:
    with uow() as u:
        hub.add_lead(u, SYSTEM, slack("UONE", "One"), now=NOW)
    with uow() as u, pytest.raises(HubError) as refused:
        hub.remove_lead(u, SYSTEM, slack("UONE"), now=NOW)
    assert refused.value.message == hub.LAST_LEAD


def test_the_first_console_person_leads_an_imported_hub_with_no_lead(core: Core) -> None:  # noqa: F811
    with UnitOfWork(core.session_factory) as u:
        people.resolve_actor(u, slack("USAM", "sam"), now=NOW)  # people, but nobody leads yet
    out = console(core, "/hub department add Finance\n", name="priya")
    assert "Department Finance added." in out
    with UnitOfWork(core.session_factory) as u:
        priya = people.find(u.session, console_ref("priya"))
        assert priya is not None and priya.is_lead


def test_unknown_usecase_sub_commands_get_the_help_not_a_new_form() -> None:
    for text in ("list all", "status 12 now", "edit 12 please"):
        assert g.parse(g.USECASE, text) == g.Help(g.USECASE)
    assert g.parse(g.USECASE, "edit 12") == g.EditUseCase(12)  # edit exists now: it opens #12's answers
    assert g.parse(g.USECASE, "Forecast invoice volumes") == g.OpenForm("Forecast invoice volumes")


def test_leads_from_the_cli(tmp_path: Path) -> None:
    db = {"DATABASE_URL": f"sqlite:///{tmp_path / 'hub.db'}"}
    assert hubspoke(tmp_path, "db", "upgrade", **db).returncode == 0
    added = hubspoke(tmp_path, "hub", "lead", "add", "U0LEAD", **db)
    assert added.returncode == 0, added.stderr
    listed = hubspoke(tmp_path, "hub", "lead", "list", **db)
    assert "slack:U0LEAD" in listed.stdout
    last = hubspoke(tmp_path, "hub", "lead", "remove", "U0LEAD", **db)
    assert last.returncode == 1 and "only lead" in last.stderr
