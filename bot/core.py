"""The core every adapter shares: settings, a unit-of-work factory, the clock and the outbox."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy.orm import Session, sessionmaker

from bot.expertise.index import ExpertiseIndex
from bot.settings import Settings
from intake import hub, people
from intake.people import PersonRef
from intake.read_models import Actor
from storage.db import UnitOfWork, background, read_only
from storage.types import utcnow

ACTOR_TTL = 30.0  # seconds a person's roles are cached for the request path
P = ParamSpec("P")
R = TypeVar("R")


@dataclass
class Core:
    """What listeners, the CLI and scheduled jobs call services through."""

    settings: Settings
    session_factory: sessionmaker[Session]
    clock: Callable[[], dt.datetime] = utcnow
    on_commit: list[Callable[[], None]] = field(default_factory=list)
    llm: Any = None  # bot.llm.LLM: the configured endpoint, or NoLLM

    def __post_init__(self) -> None:
        self._reads = read_only(self.session_factory)
        self._expertise: ExpertiseIndex | None = None
        self._actors: dict[tuple[str, str], tuple[float, Actor]] = {}
        self._departments: tuple[float, list[str]] | None = None

    def forget_actors(self) -> None:
        """Drop cached roles and departments after they change here (other replicas catch up within ACTOR_TTL)."""
        self._actors.clear()
        self._departments = None

    def departments(self) -> list[str]:
        """The hub's departments, for the intake form (cached for ACTOR_TTL: they change rarely)."""
        cached = self._departments
        if cached is not None and time.monotonic() - cached[0] < ACTOR_TTL:
            return list(cached[1])
        names = self.read(hub.list_departments)
        self._departments = (time.monotonic(), names)
        return list(names)

    def forget_actor(self, ref: PersonRef | None) -> None:
        """Drop one person's cached roles, so the next look is fresh."""
        if ref is not None:
            self._actors.pop((ref.platform, ref.external_id), None)

    @property
    def expertise(self) -> ExpertiseIndex:
        """The expertise index (taxonomy and ranking), built on first use."""
        if self._expertise is None:
            index = ExpertiseIndex.from_settings(self.settings)
            if self.llm is not None and self.llm.enabled:
                index.with_embeddings(self.llm)
            self._expertise = index
        return self._expertise

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.session_factory)

    def now(self) -> dt.datetime:
        return self.clock()

    def run(self, service: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        """Call a write service in its own unit of work at `now`, then wake the outbox."""
        return self.run_with(None, service, *args, **kwargs)

    def run_with(
        self, also: Callable[[Session], None] | None, service: Callable[..., R], *args: Any, **kwargs: Any
    ) -> R:
        """`run` as background work (requests' writes go first on SQLite), `also` written in its transaction."""
        kwargs.setdefault("now", self.now())
        with UnitOfWork(background(self.session_factory)) as uow:
            if also is not None:
                uow.before_commit.append(also)
            result = service(uow, *args, **kwargs)
        for hook in self.on_commit:
            hook()
        return result

    def read(self, service: Callable[Concatenate[UnitOfWork, P], R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Call a read-only service in its own unit of work (never takes SQLite's write lock)."""
        with UnitOfWork(self._reads) as uow:
            return service(uow, *args, **kwargs)

    def actor(
        self, ref: PersonRef, *, leads: frozenset[str] | None = None, first_is_lead: bool = False
    ) -> tuple[Actor, bool]:
        """The Actor behind a platform's user (cached for ACTOR_TTL); True when this is their first request.

        `leads` are the platform ids configured as leads (None: the roles stored). Services re-read
        roles in the transaction that records a decision, so a stale cache can never let a removed
        reviewer decide; it only spares a query on the way to that check.
        """
        key = (ref.platform, ref.external_id)
        cached = self._actors.get(key)
        if cached is not None and time.monotonic() - cached[0] < ACTOR_TTL:
            return cached[1], False
        actor = self.read(people.find_actor, ref, leads=leads)
        created = False
        if actor is None:
            actor, created = self.run(people.resolve_actor, ref, leads=leads, first_is_lead=first_is_lead)
        self._actors[key] = (time.monotonic(), actor)
        return actor, created

    def zone_of(self, tz: str | None) -> Any:
        """A person's zone, or the hub's when theirs is unknown."""
        from zoneinfo import ZoneInfo

        try:
            return ZoneInfo(tz) if tz else self.settings.zone
        except Exception:
            return self.settings.zone
