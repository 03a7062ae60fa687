"""One person at a terminal: who they are, how lines are read, and delivering what their actions caused."""

from __future__ import annotations

import datetime as dt
import os
import re
import select
import sys
from dataclasses import dataclass
from typing import TextIO

from bot.chat import ChatPort
from bot.core import Core
from bot.outbox import deliver_due
from bot.outbox.delivery import TaskPort
from bot.tasks import TASKS, TaskRunner
from handlers.console.chat import ConsoleChat, Screen
from handlers.console.people import console_ref
from handlers.console.render import Rendered
from intake import people
from intake.errors import HubError
from intake.read_models import Actor

PASTE_GAP = 0.03  # seconds: lines that arrive closer together than this were pasted, not typed
COMMAND_LIKE = re.compile(r"^/[a-z]+(\s|$)", re.I)  # `/as rita` mid-form; a path like /data/x is an answer


class EndOfInput(Exception):
    """Input ended (Ctrl-D, or the end of a piped script)."""


class Cancelled(Exception):
    """The person typed /cancel in the middle of a form."""


class LineReader:
    """Reads what the person types; piped input is echoed so a scripted session reads like a typed one."""

    def __init__(self, stdin: TextIO, screen: Screen, *, interactive: bool | None = None) -> None:
        self._stdin = stdin
        self._screen = screen
        self.interactive = interactive if interactive is not None else (stdin is sys.stdin and stdin.isatty())
        if self.interactive:
            import readline  # noqa: F401  (line editing and history for input())

    def read_answer(self, prompt: str) -> str:
        """An answer to a question: at a terminal, several lines pasted at once are one answer."""
        line = self.read(prompt)
        if not self.interactive:
            return line  # a script gives one answer a line
        pasted = self._pasted()
        return "\n".join([line, *pasted]) if pasted else line

    def _pasted(self) -> list[str]:
        """Lines already waiting at the terminal, right after the one just read (the rest of a paste)."""
        chunks: list[bytes] = []
        fd = self._stdin.fileno()
        while select.select([fd], [], [], PASTE_GAP)[0]:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
        text = b"".join(chunks).decode(errors="replace")
        return text.rstrip("\r\n").splitlines() if text else []

    def read(self, prompt: str) -> str:
        """One line without its newline; EndOfInput when there are no more."""
        if self.interactive:
            self._screen.forget()
            try:
                return input(prompt)
            except EOFError:
                self._screen.write("")
                raise EndOfInput from None
        self._screen.write_prompt(prompt)
        line = self._stdin.readline()
        if not line:
            self._screen.write("")
            raise EndOfInput
        line = line.rstrip("\r\n")
        self._screen.write(line)
        return line


@dataclass
class ConsoleSession:
    """The state of a console: the core, the screen, and who is typing."""

    core: Core
    screen: Screen
    reader: LineReader
    chat: ConsoleChat
    actor: Actor | None = None
    name: str = ""

    def ask(self, prompt: str) -> str:
        """Ask for one answer; /cancel abandons the form."""
        while True:
            line = self.reader.read_answer(prompt).strip()
            if line.lower() == "/cancel":
                raise Cancelled
            if not COMMAND_LIKE.match(line):
                return line
            self.screen.write("  ! You are in the middle of a form: answer it, or /cancel to stop.")

    def become(self, name: str) -> tuple[Actor, bool]:
        """Act as `name` from now on, creating the person on first use; True when they are new."""
        # Console roles are the ones stored (no configuration names console leads), and the first
        # person of an empty hub leads it, so a fresh console can set the hub up.
        ref = console_ref(name)
        if not ref.external_id:
            raise HubError("Give a name, e.g. /as rita")
        actor = self.core.read(people.find_actor, ref, leads=None)
        created = False
        if actor is None:
            actor, created = self.core.run(people.resolve_actor, ref, first_is_lead=True)
        self.actor, self.name = actor, name
        return actor, created

    def me(self) -> Actor:
        """The current person with their roles as they are now (a lead may have just changed them)."""
        return self.become(self.name)[0]

    def zone(self) -> dt.tzinfo:
        """The current person's time zone, or the hub's."""
        zone: dt.tzinfo = self.core.zone_of(self.actor.tz if self.actor else None)
        return zone

    def reply(self, rendered: Rendered | str) -> None:
        """Answer privately, like an ephemeral Slack reply."""
        self.screen.reply(rendered)

    def deliver(self) -> None:
        """Carry out what the last action queued (durable work first, then its messages), so it appears right
        after the action that caused it."""
        ports: dict[str | None, ChatPort | TaskPort] = {TASKS: TaskRunner(self.core), None: self.chat}
        while deliver_due(self.core.session_factory, ports, now=self.core.now()).get("delivered"):
            pass

    def prompt(self) -> str:
        """`Rita (reviewer)> `: the prompt says who you are."""
        actor = self.actor
        if actor is None:
            return "> "
        role = "lead" if actor.is_lead else "reviewer" if actor.is_reviewer else ""
        if actor.is_lead and actor.is_reviewer:
            role = "lead, reviewer"
        return f"{actor.name} ({role})> " if role else f"{actor.name}> "
