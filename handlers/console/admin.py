"""`/hub` in the console: reviewers, departments, away flags and guidelines; people are `@name`."""

from __future__ import annotations

import re

from bot.expertise import skills
from bot.expertise.skills import parse_skills
from handlers.console.replies import render_departments, render_guidelines, render_reviewers
from handlers.console.session import ConsoleSession
from intake import hub
from intake.errors import HubError

MENTION = re.compile(r"@([\w.-]+)")

HUB_HELP = (
    "/hub sets up the hub (leads only, except where noted):\n"
    "/hub reviewer add @name skill, skill… / /hub reviewer remove @name\n"
    "/hub reviewer list: reviewers, their skills and open reviews (anyone)\n"
    "/hub skills add forecasting, nlp | remove nlp | list: your own skills\n"
    "/hub department add Finance / /hub department list (anyone)\n"
    "/hub away @name on|off (or /hub away on|off for yourself)\n"
    "/hub guidelines (anyone) / /hub guidelines set KEY VALUE: what may go ahead self-serve\n"
    "People are their console names: @rita is whoever typed /as rita (or will)."
)


def _target(rest: str, example: str) -> tuple[str, str]:
    """The first @name in `rest` and the text after it."""
    match = MENTION.search(rest)
    if not match:
        raise HubError(f"Mention the person: {example}")
    return match.group(1), rest[match.end() :].strip()


def _skills(session: ConsoleSession, action: str, rest: str) -> str:
    """Declare, remove or list your own skills (they are evidence for /whoknows)."""
    core, actor = session.core, session.me()
    if action == "add":
        view = core.run(skills.add_skills, actor, parse_skills(rest))
    elif action == "remove":
        view = core.run(skills.remove_skills, actor, parse_skills(rest))
    else:
        view = core.read(skills.list_skills, actor)
    return f"Your skills: {', '.join(view.skills) or 'none yet (/hub skills add forecasting, nlp)'}."


def _reviewer(session: ConsoleSession, action: str, rest: str) -> str:
    """Add, remove or list reviewers."""
    core, actor = session.core, session.me()
    if action == "add":
        name, skills_text = _target(rest, "/hub reviewer add @rita forecasting, nlp")
        skills = [s.strip() for s in skills_text.split(",") if s.strip()]
        person = core.run(hub.add_reviewer, actor, name, skills=skills, platform=hub.CONSOLE)
        return f"{person.name} is a hub reviewer ({', '.join(person.skills) or 'no skills yet'})."
    if action == "remove":
        name, _ = _target(rest, "/hub reviewer remove @rita")
        person, still_open = core.run(hub.remove_reviewer, actor, name, platform=hub.CONSOLE)
        tail = f" They still hold {still_open} open review(s): reassign them from the cards." if still_open else ""
        return f"{person.name} is no longer a hub reviewer.{tail}"
    return render_reviewers(core.read(hub.list_reviewers)).text()


def hub_reply(session: ConsoleSession, text: str) -> str:
    """The answer to one `/hub …` line."""
    core = session.core
    words = text.split(maxsplit=2)
    area = words[0].lower() if words else "help"
    action = words[1].lower() if len(words) > 1 else ""
    rest = words[2] if len(words) > 2 else ""
    if area == "reviewer" and action in ("add", "remove", "list", ""):
        return _reviewer(session, action, rest)
    if area == "skills":
        return _skills(session, action, rest)
    if area == "department" and action == "add":
        return f"Department {core.run(hub.add_department, session.me(), rest)} added."
    if area == "department" and action in ("list", ""):
        return render_departments(core.read(hub.list_departments)).text()
    if area == "away":
        mention = MENTION.search(text)
        target = mention.group(1) if mention else session.name
        state = next((a.lower() for a in text.split()[1:] if a.lower() in ("on", "off")), None)
        if state is None:
            raise HubError("Usage: /hub away @name on, or /hub away off for yourself.")
        person = core.run(hub.set_away, session.me(), target, state == "on", platform=hub.CONSOLE)
        status = "away: new reviews skip them" if person.away else "back: reviews route to them again"
        return f"{person.name} is {status}."
    if area == "guidelines":
        if action == "set":
            key, _, value = rest.partition(" ")
            core.run(hub.set_guideline, session.me(), key.strip(), value)
        return render_guidelines(core.read(hub.get_guidelines)).text()
    return HUB_HELP


def handle_hub_command(session: ConsoleSession, text: str) -> None:
    """Administer reviewers, departments, away flags and guidelines."""
    session.reply(hub_reply(session, text.strip()))
