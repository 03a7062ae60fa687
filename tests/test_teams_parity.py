"""One product on every surface, Teams too: tests/test_parity.py's dialog, run on Teams, stores what the console does.

A lead sets the hub up (a department, a reviewer with a skill by @mention), a spoke submits a low- and a high-risk
use case through the intake card, a stranger clicks Approve (refused, nothing changes), the reviewer asks for
changes with a reason typed on the card, the spoke edits and resubmits (on Teams: "Edit and resubmit" on the
outcome card answers the intake card pre-filled with the use case's id, and submitting it after changes were
requested is the resubmission), the reviewer approves the new round, the owner moves it on (`usecase stage 2
experimentation`: #2 is the one reviewed), someone asks who knows.

Every click is what Teams would send for the card the bot showed: the button's own `data`, with the card's inputs
merged in under their ids (a reason typed in a ShowCard arrives as `request_changes_reason`).

It is compared with the console run of the same dialog (tests/test_parity.console_dialog), key by key, through
tests/test_parity.outcomes, which already leaves out what only depends on the surface: platform ids, names'
case, and the console's "lead_added" row (its first person becomes lead; Teams' leads are configured). The
console's first-person-is-lead rule gives the same roles here, since Lee (the first person in the console) is
the configured Teams lead, so no fixed expectation is needed beyond the console's own, which test_parity pins.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from sqlalchemy import select

from bot.core import Core
from bot.settings import Settings
from intake.decisions import REVIEWERS_ONLY
from storage.db import UnitOfWork, make_engine, make_session_factory, upgrade
from storage.models import Review
from tests.conftest import NOW
from tests.fakes.teams_connector import Sent
from tests.test_parity import EDITED_PROBLEM, REASON, console_dialog, outcomes
from tests.test_teams import HUB, LEE, RITA, SAM, TeamsBot, TeamsUser, teams  # noqa: F401  (the fixture)

OTTO = TeamsUser("29:otto", "Otto")
LOW = {
    "title": "Summarise support tickets",
    "problem": "Finance guesses monthly invoice volumes by hand and staffs the team wrong.",
    "department": "Finance",
    "benefit": "Right-sized team, fewer late payments",
    "success_metric": "Late payments down 30% by Q3",
    "data_sources": "ERP invoice history",
    "data_availability": "available",
    "data_sensitivity": "internal",
    "people_affected": "internal",
    "autonomy": "assistive",
}
HIGH = {**LOW, "title": "Forecast invoice volumes", "data_sensitivity": "personal"}


# --- what Teams does with a card the bot showed ------------------------------------------------------------


def walk(node: Any) -> Iterator[dict[str, Any]]:
    """Every element and action of a card, ShowCard cards and ActionSets included."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def button(card: dict[str, Any], verb: str) -> dict[str, Any]:
    """The data of the card's Action.Execute with `verb`; the test fails when the card offers no such button."""
    found = [a for a in walk(card) if a.get("type") == "Action.Execute" and a.get("verb") == verb]
    assert found, f"the card offers no {verb!r} button: {[a.get('verb') for a in walk(card) if 'verb' in a]}"
    return dict(found[0].get("data") or {})


def press(card: dict[str, Any], verb: str, **typed: str) -> dict[str, Any]:
    """What Teams sends for a click on `verb`: the button's data and the card's inputs (as shown, or as typed)."""
    inputs = {e["id"]: e for e in walk(card) if str(e.get("type", "")).startswith("Input.")}
    unknown = set(typed) - set(inputs)
    assert not unknown, f"the card has no inputs {unknown}: {sorted(inputs)}"
    values = {name: str(e.get("value", "")) for name, e in inputs.items()}
    return {**values, **typed, **button(card, verb)}


def stored(bot: TeamsBot, query: Any) -> Any:
    with UnitOfWork(bot.app.core.session_factory) as uow:
        return uow.session.scalar(query)


def shown(bot: TeamsBot, conversation: str, words: str, n: int = 1) -> Sent:
    """The `n`th card posted in `conversation` (or a thread of it) that reads `words`, once it has arrived."""
    found = bot.connector.wait_for(
        lambda s: s.method == "POST" and s.conversation_id.startswith(conversation) and words in s.text, n
    )
    assert len(found) >= n, f"no card reading {words!r} in {conversation}: {[s.text[:80] for s in bot.connector.sent]}"
    return found[n - 1]


def teams_dialog(bot: TeamsBot) -> None:
    bot.post(bot.activity(LEE, "conversationUpdate", channel=HUB, membersAdded=[{"id": "28:hubspoke-bot"}]))
    bot.say(LEE, "hub channel here", channel=HUB)
    shown(bot, HUB, "This channel is the hub channel now")

    bot.say(LEE, "hub department add Finance")
    shown(bot, LEE.chat, "Department **Finance** added.")
    bot.say(LEE, "hub reviewer add <at>Rita</at> forecasting", mentions=(RITA,))
    shown(bot, LEE.chat, "<at>Rita</at> is a hub reviewer (forecasting).")
    bot.say(LEE, "hub skills add <at>Rita</at> nlp", mentions=(RITA,))
    shown(bot, LEE.chat, "<at>Rita</at> now lists: forecasting, nlp.")  # not "<at>Rita</at> nlp" as Lee's skill

    for n, answers in enumerate((LOW, HIGH), 1):
        bot.say(SAM, "usecase")
        form = shown(bot, SAM.chat, "**New AI use case**", n).card
        saved = bot.click(SAM, "submit_intake", press(form, "submit_intake", **answers))
        assert f"#{n} **{answers['title']}**" in json.dumps(saved["value"])
    card = shown(bot, HUB, "Review #2: Forecast invoice volumes").card

    refused = bot.click(OTTO, "approve", press(card, "approve"), channel=HUB)
    assert refused["value"] == REVIEWERS_ONLY
    assert stored(bot, select(Review.decision).where(Review.use_case_id == 2)) is None

    typed = press(card, "request_changes", request_changes_reason=REASON)  # typed in the ShowCard's input
    asked = bot.click(RITA, "request_changes", typed, channel=HUB)
    assert "**Changes requested** by <at>Rita</at>" in json.dumps(asked["value"]), asked["value"]

    outcome = shown(bot, SAM.chat, "**asked for changes** on #2").card
    assert REASON in json.dumps(outcome)
    edit = bot.click(SAM, "edit_resubmit", press(outcome, "edit_resubmit"))["value"]
    assert [e.get("value") for e in walk(edit) if e.get("id") == "title"] == ["Forecast invoice volumes"]
    resubmitted = bot.click(SAM, "submit_intake", press(edit, "submit_intake", problem=EDITED_PROBLEM))
    assert "#2" in json.dumps(resubmitted["value"])

    card = shown(bot, HUB, "Review #2 (round 2)").card
    assert EDITED_PROBLEM in json.dumps(card)
    approved = bot.click(RITA, "approve", press(card, "approve"), channel=HUB)
    assert "**Approved** by <at>Rita</at>" in json.dumps(approved["value"])

    bot.say(SAM, "usecase stage 2 experimentation")
    shown(bot, SAM.chat, "is now in **experimentation**")
    bot.say(OTTO, "whoknows forecasting")
    assert "<at>Rita</at>" in shown(bot, OTTO.chat, "Who knows forecasting").text


def test_the_same_dialog_stores_the_same_on_teams_as_in_the_console(teams: TeamsBot, tmp_path: Any) -> None:  # noqa: F811
    teams_dialog(teams)
    on_teams = outcomes(teams.app.core.session_factory)

    url = f"sqlite:///{tmp_path / 'console.db'}"
    upgrade(url)
    engine = make_engine(url)
    core = Core(
        settings=Settings(_env_file=None, database_url=url),
        session_factory=make_session_factory(engine),
        clock=lambda: NOW,
    )
    try:
        console_dialog(core)
        in_console = outcomes(core.session_factory)
    finally:
        engine.dispose()

    for key in ("use_cases", "reviews", "skills", "suggested", "audit", "roles"):
        assert on_teams[key] == in_console[key], f"{key} differ between Teams and the console"
