"""`/hub` in the console: what it means and says comes from bot.conversation; people are `@name`."""

from __future__ import annotations

import datetime as dt
import re

from bot.conversation import grammar as g
from bot.conversation.answers import PortfolioAnswer, Said, answer
from handlers.console.people import console_ref
from handlers.console.render import Rendered, lines_of, text_of
from handlers.console.session import ConsoleSession
from intake.notices import Message
from intake.portfolio_words import CHART_SENT

MENTION = re.compile(r"@([\w.-]+)")
MENTIONS = g.MentionSyntax(MENTION, lambda m: console_ref(m.group(1)))


def render(said: Said, zone: dt.tzinfo) -> str:
    """Neutral text as console text."""
    return "\n".join(text_of(line, zone) for line in said.lines)


def handle_hub_command(session: ConsoleSession, text: str) -> None:
    """Administer reviewers, departments, away flags, skills and guidelines."""
    result = answer(session.core, session.me(), g.parse(g.HUB, text, MENTIONS))
    if isinstance(result, PortfolioAnswer):
        shown = render_message(result.message, session.zone())
        if result.chart_sent:
            shown = Rendered((*shown.lines, CHART_SENT))
        session.reply(shown)
        return
    session.reply(render(result, session.zone()) if isinstance(result, Said) else "Try /hub help.")


def render_message(message: Message, zone: dt.tzinfo) -> Rendered:
    """A composed message (the portfolio) as console lines: its title, then its paragraphs."""
    title = text_of(message.title or message.summary, zone)
    return Rendered((title, *lines_of([message.lead, *message.rest], zone)))
