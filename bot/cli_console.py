"""`hubspoke console` and `hubspoke demo`: the same core in a terminal, no chat platform needed."""

from __future__ import annotations

import argparse
import getpass
import io
import logging
import os
import sys
from typing import TextIO

from bot.app import create_app
from bot.demo import HINT, LEAD, seed_demo
from bot.settings import Settings
from handlers.console.people import console_ref
from intake.people import person_id_for

NO_PLATFORM = (
    "No Slack credentials are set, so Hubspoke opens in the terminal. To connect Slack, follow README "
    "'Connect Slack' (SLACK_BOT_TOKEN, SLACK_APP_TOKEN, SLACK_SIGNING_SECRET)."
)


def no_platform_credentials(settings: Settings) -> bool:
    """True when no chat platform is configured at all (then `hubspoke run` opens the console)."""
    slack = settings.slack_bot_token or settings.slack_app_token or settings.slack_signing_secret
    return slack is None and not settings.teams_enabled


def login_name() -> str:
    """Who is at the terminal, until they say otherwise with --as or /as."""
    try:
        return os.environ.get("USER") or getpass.getuser() or "you"
    except (OSError, KeyError):
        return "you"


def start_console(
    settings: Settings,
    *,
    demo: bool = False,
    name: str | None = None,
    verbose: bool = False,
    intro: list[str] | None = None,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
) -> int:
    """Open the database, seed the demo when asked, and talk to the terminal until /quit."""
    from handlers.console.chat import ConsoleChat, Screen
    from handlers.console.repl import run_console

    if not verbose:  # migrations and the like log at INFO; the console is for people
        logging.getLogger().setLevel(logging.WARNING)
    core = create_app(settings, deliver=False, listen=False).core  # the console delivers to its own screen
    lines, hint = list(intro or []), None
    if not no_platform_credentials(settings):
        lines.append(
            "Note: Slack is configured too. If a Slack bot shares this database, messages meant for Slack will "
            "show here instead; point DATABASE_URL at a database of its own to try things."
        )
    if demo:
        # The seed's own messages were "delivered" before you arrived; they are not replayed.
        quiet = ConsoleChat(Screen(io.StringIO()), core.zone_of)
        lines.append("Seeded the demo hub." if seed_demo(core, chat=quiet) else "The database has a hub already.")
        if name is None and core.read(person_id_for, console_ref(LEAD)) is not None:
            name, hint = LEAD, HINT
    return run_console(
        core, stdin or sys.stdin, stdout or sys.stdout, name=name or login_name(), intro=lines, hint=hint
    )


def cmd_console(args: argparse.Namespace) -> int:
    """Run the console (seeding the demo hub first with --demo, or as `hubspoke demo`)."""
    from bot.cli import _settings

    return start_console(_settings(), demo=args.demo, name=args.name, verbose=args.verbose)


def run_without_platform(settings: Settings, verbose: bool = False) -> int:
    """What `hubspoke run` does with no platform credentials at all: say how to connect Slack, then the console."""
    print(NO_PLATFORM, flush=True)
    return start_console(settings, verbose=verbose)


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `console` and `demo` to the `hubspoke` command."""
    console = sub.add_parser("console", help="try Hubspoke in the terminal: the same bot, no Slack needed")
    console.add_argument("--demo", action="store_true", help="seed a small demo hub first (if the database is empty)")
    console.add_argument("--as", dest="name", metavar="NAME", help="who you are (default: your login name)")
    console.set_defaults(func=cmd_console)
    demo = sub.add_parser("demo", help="seed a demo hub (if the database is empty) and open the console as its lead")
    demo.add_argument("--as", dest="name", metavar="NAME", help="who you are (default: the demo's lead)")
    demo.set_defaults(func=cmd_console, demo=True)
