"""The outbound chat port: one protocol, one implementation per platform, and a recording fake."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from intake.notices import Notice


@dataclass(frozen=True)
class Recipient:
    """A person a message is for, with the platform ids a port needs to reach them."""

    person_id: int
    name: str
    handles: Mapping[str, str] = field(default_factory=dict)  # their id on each platform they use

    def handle(self, platform: str) -> str | None:
        return self.handles.get(platform)


@dataclass(frozen=True)
class Posted:
    """Where a message landed: enough to edit it later."""

    channel: str
    ts: str


class DeliveryError(Exception):
    """A send that failed; `retry_after` is the platform's own back-off when it gave one."""

    def __init__(
        self, message: str, *, retry_after: float | None = None, permanent: bool = False, unreachable: bool = False
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.permanent = permanent or unreachable
        self.unreachable = unreachable  # the person cannot be reached on this platform yet: the leads hear once


@dataclass(frozen=True)
class Profile:
    """What a platform says about a person: display name, time zone, e-mail (any may be unknown)."""

    name: str | None = None
    tz: str | None = None
    email: str | None = None


class ChatPort(Protocol):
    """What core services need from a chat platform to send and edit messages.

    `post_interval` is the least time between two posts to one conversation the platform allows;
    `bucket(operation)` names the rate-limit bucket an outbox operation spends (a 429 pauses it).
    """

    platform: str
    post_interval: float

    def bucket(self, operation: str) -> str:
        """The platform's rate-limit bucket for an outbox operation (post, update, profile)."""
        ...

    def fetch_profile(self, to: Recipient) -> Profile | None:
        """The person's profile as the platform knows it, or None when it cannot say."""
        ...

    def post(self, notice: Notice, *, channel: str | None = None, to: Recipient | None = None) -> Posted:
        """Post a notice to a channel (`hub` is the hub channel) or as a DM to a person."""
        ...

    def update(self, posted: Posted, notice: Notice) -> None:
        """Replace a posted message with a newer version of the same notice."""
        ...

    def reply(self, address: str, notice: Notice) -> None:
        """Answer a person privately at the address their request gave (Slack: its response_url)."""
        ...


class TaskPort(Protocol):
    """Runs durable work (outbox rows of the core's own platform) instead of sending messages."""

    platform: str
    post_interval: float

    def bucket(self, operation: str) -> str: ...

    def run(self, payload: dict[str, Any], *, done: Callable[[Any], None]) -> None:
        """Carry out one task, writing `done(session)` in the transaction that commits its effect.

        DeliveryError to retry it later. A task that commits nothing still calls `done` in a transaction.
        """
        ...


@dataclass
class Sent:
    """One entry of FakeChat's transcript."""

    operation: str
    destination: str
    notice: Notice


@dataclass
class FakeChat:
    """A ChatPort that keeps a transcript instead of talking to a platform.

    `delay` makes each send take that long (outside the lock, so concurrent sends overlap);
    `max_in_flight` records the most sends it ever had at once.
    """

    platform: str = "slack"
    post_interval: float = 0.0
    delay: float = 0.0
    profiles: dict[int, Profile] = field(default_factory=dict)  # what fetch_profile answers, by person id
    transcript: list[Sent] = field(default_factory=list)
    fail_next: list[DeliveryError] = field(default_factory=list)
    max_in_flight: int = 0
    _in_flight: int = 0
    _ts: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _begin(self) -> None:
        with self._lock:
            if self.fail_next:
                raise self.fail_next.pop(0)
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
        if self.delay:
            time.sleep(self.delay)

    def _end(self, sent: Sent) -> None:
        with self._lock:
            self._in_flight -= 1
            self.transcript.append(sent)

    def post(self, notice: Notice, *, channel: str | None = None, to: Recipient | None = None) -> Posted:
        self._begin()
        destination = channel if channel is not None else f"dm:{to.name if to else '?'}"
        self._end(Sent("post", destination, notice))
        return Posted(channel=destination, ts=f"{next(self._ts)}.000")

    def update(self, posted: Posted, notice: Notice) -> None:
        self._begin()
        self._end(Sent("update", posted.channel, notice))

    def reply(self, address: str, notice: Notice) -> None:
        self._begin()
        self._end(Sent("reply", address, notice))

    def bucket(self, operation: str) -> str:
        return operation

    def fetch_profile(self, to: Recipient) -> Profile | None:
        return self.profiles.get(to.person_id)
