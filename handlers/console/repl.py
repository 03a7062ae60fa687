"""The console loop: read a line, run it as the current person, then show what it caused."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path
from typing import TextIO

from bot.core import Core
from handlers.console.buttons import click
from handlers.console.chat import ConsoleChat, Screen
from handlers.console.commands import COMMANDS, handle_who
from handlers.console.render import when
from handlers.console.session import Cancelled, ConsoleSession, EndOfInput, LineReader
from intake.errors import AlreadyDecided, HubError
from storage.db import configure_delivery

log = logging.getLogger(__name__)

QUIT = {"/quit", "/exit"}
WELCOME = "Hubspoke console: the same bot as in Slack, in your terminal. /help lists commands, /quit leaves."


def error_text(session: ConsoleSession, error: BaseException) -> str:
    """The sentence a person sees for an error: the domain's own words, or a reference to the log."""
    if isinstance(error, HubError):
        text = error.message
        if isinstance(error, AlreadyDecided) and error.decided_at:
            text += f" ({when(error.decided_at, session.zone())})"
        return text
    ref = uuid.uuid4().hex[:8]
    log.error("unexpected error (ref %s)", ref, exc_info=error)
    return f"Something went wrong on our side (ref {ref}). Nothing you sent was lost; please try again."


def handle_line(session: ConsoleSession, line: str) -> None:
    """Run one typed line: a command, or a number that clicks a button on the last card shown."""
    text = line.strip()
    command, _, rest = text.partition(" ")
    try:
        if text.isdigit():
            click(session, int(text))
        elif command.lower() in COMMANDS:
            COMMANDS[command.lower()].handler(session, rest.strip())
        elif text.startswith("/"):
            session.reply(f"{command} is not a command here. /help lists them.")
        else:
            session.reply("Type a command (they start with /), or a number to click a button. /help lists them.")
    except Cancelled:
        session.reply("Cancelled.")
    except EndOfInput:
        raise
    except Exception as exc:
        session.reply(error_text(session, exc))


def run_console(
    core: Core,
    stdin: TextIO,
    stdout: TextIO,
    *,
    name: str,
    intro: list[str] | None = None,
    hint: str | None = None,
    interactive: bool | None = None,
    files_dir: Path | None = None,
) -> int:
    """Talk to the person at the terminal until /quit or the end of input; returns the exit status."""
    screen = Screen(stdout)
    # The console delivers every message itself, the hub's included, whichever platform it is for.
    configure_delivery(core.session_factory, (ConsoleChat.platform,), (ConsoleChat.platform,))
    session = ConsoleSession(
        core, screen, LineReader(stdin, screen, interactive=interactive), ConsoleChat(screen, core.zone_of, files_dir)
    )
    screen.write(WELCOME)
    for line in intro or []:
        screen.write(line)
    _, created = session.become(name)
    actor = session.actor
    if created and actor is not None and actor.is_lead:
        session.reply(
            f"Welcome, {actor.name}. You are the first person here, so you are a hub lead. Set the hub up with "
            "/hub department add Finance and /hub reviewer add @rita forecasting, nlp; then /usecase as anyone."
        )
    handle_who(session)
    if hint:
        screen.write(hint)
    session.deliver()  # anything still waiting from before
    while True:
        try:
            line = session.reader.read(session.prompt())
            if line.strip().lower() in QUIT:
                break
            if line.strip():
                handle_line(session, line)
                session.deliver()
        except EndOfInput:
            break
        except KeyboardInterrupt:  # Ctrl-C drops what was being typed or asked, like a closed modal
            screen.write("")
            session.reply("Cancelled. /quit leaves.")
    screen.write("Bye.")
    return 0
