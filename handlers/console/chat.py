"""The console ChatPort: prints each notice with where it went, and remembers the last card's buttons."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from bot.charts import draw_portfolio
from bot.chat import Posted, Profile, Recipient
from handlers.console.render import Button, Rendered, message, people_in, render_card_update, render_notice
from intake.notices import HUB, Files, Notice, PortfolioChart, ReviewCard

HUB_LABEL = "#hub"
ONLY_YOU = "only you"
FILES_DIR = "hubspoke-files"  # beside where the console runs: charts and exports people asked for


class Screen:
    """Where console output goes, and the buttons the most recently shown card offered (numbers click them)."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.buttons: tuple[Button, ...] = ()
        self._last: str | None = None

    def write(self, text: str) -> None:
        """Print text as is (prompts, form questions)."""
        self._last = None
        self.out.write(text if text.endswith("\n") else text + "\n")
        self.out.flush()

    def write_prompt(self, prompt: str) -> None:
        """Print a prompt, leaving the cursor after it."""
        self._last = None
        self.out.write(prompt)
        self.out.flush()

    def forget(self) -> None:
        """Something else wrote to the terminal: the next message is never "the same as above"."""
        self._last = None

    def show(self, destination: str, rendered: Rendered) -> None:
        """Print a message with its destination; the same message twice in a row is shortened."""
        text = rendered.text()
        if text == self._last and rendered.lines:
            self.out.write(f"[{destination}] {rendered.lines[0]} (same as above)\n")
        else:
            self.out.write(message(destination, rendered) + "\n")
        self.out.flush()
        self._last = text
        if rendered.buttons:
            self.buttons = rendered.buttons
        elif destination == ONLY_YOU and rendered.use_case_id is not None:
            self.buttons = ()  # the person asked to see a use case that offers them nothing to click
        elif rendered.closes and self.buttons and self.buttons[0].use_case_id == rendered.use_case_id:
            self.buttons = ()

    def reply(self, rendered: Rendered | str) -> None:
        """A private answer to what the person typed, like Slack's ephemeral replies."""
        self.show(ONLY_YOU, rendered if isinstance(rendered, Rendered) else Rendered(tuple(rendered.splitlines())))


def _dm_channel(to: Recipient) -> str:
    return f"dm:{to.person_id}:{to.name}"[:64]


class ConsoleChat:
    """Prints notices on the Screen; DMs show in the recipient's zone, the hub channel in the hub's."""

    platform = "console"
    post_interval = 0.0  # a terminal takes messages as fast as they come

    def bucket(self, operation: str) -> str:
        return operation

    def reply(self, address: str, notice: Notice) -> None:
        """A private answer to whoever is at the terminal."""
        self.screen.reply(render_notice(notice, self._zone_of(None)))

    def fetch_profile(self, to: Recipient) -> Profile | None:
        """The console knows nobody's profile beyond the name typed."""
        return None

    def __init__(
        self, screen: Screen, zone_of: Callable[[str | None], dt.tzinfo], files_dir: Path | None = None
    ) -> None:
        self.screen = screen
        self._zone_of = zone_of
        self._ts = itertools.count(1)
        self.files_dir = files_dir or Path.cwd() / FILES_DIR  # where charts and exports are saved

    def _save(self, notice: PortfolioChart | Files) -> list[str]:
        """Write a chart's picture or an export's files; the lines that say where."""
        self.files_dir.mkdir(parents=True, exist_ok=True)
        if isinstance(notice, PortfolioChart):
            chart = draw_portfolio(notice)
            path = self.files_dir / chart.filename
            path.write_bytes(chart.png)
            return [f"Chart saved: {path}"]
        saved = []
        for attachment in notice.files:
            path = self.files_dir / Path(attachment.name).name  # a name, never a path from elsewhere
            path.write_text(attachment.content, encoding="utf-8")
            saved.append(f"Saved: {path}")
        return saved

    def _zone(self, notice: Notice, person_id: int | None) -> dt.tzinfo:
        """The recipient's zone, read from the people the notice names (the outbox holds a transaction)."""
        tz = next((p.tz for p in people_in(notice) if person_id is not None and p.id == person_id), None)
        return self._zone_of(tz)

    def post(self, notice: Notice, *, channel: str | None = None, to: Recipient | None = None) -> Posted:
        """Print a notice as a hub channel post or a DM."""
        if to is not None:
            destination, where = f"DM to {to.name}", _dm_channel(to)
            zone = self._zone(notice, to.person_id)
        else:
            where = channel or HUB
            destination, zone = (HUB_LABEL if where == HUB else f"#{where}"), self._zone_of(None)
        rendered = render_notice(notice, zone)
        if isinstance(notice, PortfolioChart | Files):
            rendered = Rendered((*rendered.lines, *self._save(notice)))
        self.screen.show(destination, rendered)
        return Posted(channel=where, ts=f"{dt.datetime.now(dt.UTC).timestamp():.6f}.{next(self._ts)}")

    def update(self, posted: Posted, notice: Notice) -> None:
        """Print what changed on a message posted earlier (a card is shortened to its news)."""
        person_id: int | None = None
        if posted.channel.startswith("dm:"):
            _, ident, name = posted.channel.split(":", 2)
            destination, person_id = f"DM to {name}", int(ident)
        else:
            destination = HUB_LABEL if posted.channel == HUB else f"#{posted.channel}"
        zone = self._zone(notice, person_id)
        rendered = render_card_update(notice, zone) if isinstance(notice, ReviewCard) else render_notice(notice, zone)
        self.screen.show(destination, rendered)
