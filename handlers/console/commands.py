"""The console's command table, and the commands only the console has: /as, /who, /home, /help.

To add a command, write `handle_<thing>(session, text)` (text is what follows the command) and add a
row to COMMANDS, or call `register("/whoknows", handle_whoknows, "/whoknows TOPIC", "who knows about it")`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from handlers.console.admin import handle_hub_command, render_message
from handlers.console.people import console_key
from handlers.console.render import Rendered, render_review_card
from handlers.console.replies import render_home, roles
from handlers.console.session import ConsoleSession
from handlers.console.usecase import handle_usecase_command
from handlers.console.whoknows import handle_whoknows
from intake import hub, queries
from intake.errors import HubError
from intake.notices import ReviewCard
from intake.portfolio import portfolio
from intake.portfolio_words import compose_portfolio
from intake.read_models import PersonView

Handler = Callable[[ConsoleSession, str], None]


@dataclass(frozen=True)
class ConsoleCommand:
    """One command: what runs it, how it is typed, and what it is for (for /help)."""

    handler: Handler
    usage: str
    summary: str


def _person(session: ConsoleSession) -> PersonView | None:
    actor = session.actor
    return next((p for p in session.core.read(hub.list_reviewers) if actor and p.id == actor.person_id), None)


def handle_who(session: ConsoleSession, text: str = "") -> None:
    """Say who you are and what you may do."""
    actor = session.me()
    role = roles(_person(session), is_lead=actor.is_lead, is_reviewer=actor.is_reviewer)
    session.reply(f"You are {actor.name} (@{console_key(session.name)}): {role}. /as NAME to be someone else.")


def handle_home(session: ConsoleSession, text: str = "") -> None:
    """Show your use cases and, for reviewers, your review queue with a card ready to click."""
    actor = session.me()
    mine = session.core.read(queries.my_use_cases, actor)
    queue = session.core.read(queries.my_review_queue, actor) if actor.can_decide else None
    session.reply(render_home(_person(session), mine, queue, session.zone()))
    if actor.is_lead:  # a lead's Home is the portfolio too
        view = session.core.read(portfolio, now=session.core.now())
        session.reply(render_message(compose_portfolio(view), session.zone()))
    if queue:
        # The card just shown if it waits for this person (they switched to act on it), else the oldest.
        shown = session.screen.buttons[0].use_case_id if session.screen.buttons else None
        card = next((uc for uc in queue if uc.id == shown), queue[0])
        session.reply(render_review_card(ReviewCard(use_case=card), session.zone()))


def handle_as(session: ConsoleSession, text: str) -> None:
    """Become someone else (created on first use), so one person can play spoke, reviewer and lead."""
    if not text.strip():
        raise HubError("Who? /as rita")
    _, created = session.become(text.strip())
    if created:
        session.reply(f"{session.actor.name if session.actor else text} is new here.")
    handle_who(session)
    handle_home(session)


def handle_help(session: ConsoleSession, text: str = "") -> None:
    """List what can be typed."""
    width = max(len(c.usage) for c in COMMANDS.values())
    lines = [f"{c.usage.ljust(width)}  {c.summary}" for c in COMMANDS.values()]
    lines += [f"{'1, 2, 3…'.ljust(width)}  click that button on the last card shown"]
    lines += [f"{'/quit'.ljust(width)}  leave (Ctrl-D too)"]
    session.reply(Rendered(("Type what you would type in Slack:", *lines)))


COMMANDS: dict[str, ConsoleCommand] = {
    "/usecase": ConsoleCommand(
        handle_usecase_command, "/usecase [idea] | list | status ID | stage ID STAGE", "submit and follow use cases"
    ),
    "/hub": ConsoleCommand(handle_hub_command, "/hub reviewer|department|away|guidelines", "set up the hub"),
    "/whoknows": ConsoleCommand(handle_whoknows, "/whoknows TOPIC [--from N]", "who knows about a topic, and why"),
    "/home": ConsoleCommand(handle_home, "/home", "your use cases and reviews (Slack's Home tab)"),
    "/as": ConsoleCommand(handle_as, "/as NAME", "become someone else (created on first use)"),
    "/who": ConsoleCommand(handle_who, "/who", "who you are and your roles"),
    "/help": ConsoleCommand(handle_help, "/help", "this list"),
}


def register(name: str, handler: Handler, usage: str, summary: str) -> None:
    """Add a command to the console (e.g. `/whoknows`)."""
    COMMANDS[name] = ConsoleCommand(handler, usage, summary)
