"""The core every adapter shares: settings, a unit-of-work factory, the clock and the outbox."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy.orm import Session, sessionmaker

from bot.settings import Settings
from intake import hub
from intake.views import Actor
from storage.db import UnitOfWork, read_only
from storage.types import utcnow

P = ParamSpec("P")
R = TypeVar("R")


@dataclass
class Core:
    """What listeners, the CLI and scheduled jobs call services through."""

    settings: Settings
    session_factory: sessionmaker[Session]
    clock: Callable[[], dt.datetime] = utcnow
    on_commit: list[Callable[[], None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._reads = read_only(self.session_factory)

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.session_factory)

    def now(self) -> dt.datetime:
        return self.clock()

    def run(self, service: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        """Call a write service in its own unit of work at `now`, then wake the outbox."""
        kwargs.setdefault("now", self.now())
        with self.uow() as uow:
            result = service(uow, *args, **kwargs)
        for hook in self.on_commit:
            hook()
        return result

    def read(self, service: Callable[Concatenate[UnitOfWork, P], R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Call a read-only service in its own unit of work (never takes SQLite's write lock)."""
        with UnitOfWork(self._reads) as uow:
            return service(uow, *args, **kwargs)

    def slack_actor(self, slack_user_id: str, name: str | None = None) -> tuple[Actor, bool]:
        """The Actor behind a Slack user id; True when this is their first request."""
        known = self.read(hub.find_slack_actor, slack_user_id, name=name, leads=self.settings.hub_leads)
        if known is not None:
            return known, False
        return self.run(hub.resolve_slack_actor, slack_user_id, name=name, leads=self.settings.hub_leads)

    def zone_of(self, tz: str | None) -> Any:
        """A person's zone, or the hub's when theirs is unknown."""
        from zoneinfo import ZoneInfo

        try:
            return ZoneInfo(tz) if tz else self.settings.zone
        except Exception:
            return self.settings.zone
