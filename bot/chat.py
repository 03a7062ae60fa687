"""The outbound chat port: one protocol, one implementation per platform, and a recording fake."""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from typing import Protocol

from intake.notices import Notice


@dataclass(frozen=True)
class Recipient:
    """A person a message is for, with the platform ids a port needs to reach them."""

    person_id: int
    name: str
    slack_user_id: str | None = None
    teams_user_id: str | None = None


@dataclass(frozen=True)
class Posted:
    """Where a message landed: enough to edit it later."""

    channel: str
    ts: str


class DeliveryError(Exception):
    """A send that failed; `retry_after` is the platform's own back-off when it gave one."""

    def __init__(self, message: str, *, retry_after: float | None = None, permanent: bool = False) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.permanent = permanent


class ChatPort(Protocol):
    """What core services need from a chat platform to send and edit messages."""

    platform: str

    def post(self, notice: Notice, *, channel: str | None = None, to: Recipient | None = None) -> Posted:
        """Post a notice to a channel (`hub` is the hub channel) or as a DM to a person."""
        ...

    def update(self, posted: Posted, notice: Notice) -> None:
        """Replace a posted message with a newer version of the same notice."""
        ...


@dataclass
class Sent:
    """One entry of FakeChat's transcript."""

    operation: str
    destination: str
    notice: Notice


@dataclass
class FakeChat:
    """A ChatPort that keeps a transcript instead of talking to a platform."""

    platform: str = "slack"
    transcript: list[Sent] = field(default_factory=list)
    fail_next: list[DeliveryError] = field(default_factory=list)
    _ts: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def post(self, notice: Notice, *, channel: str | None = None, to: Recipient | None = None) -> Posted:
        with self._lock:
            if self.fail_next:
                raise self.fail_next.pop(0)
            destination = channel if channel is not None else f"dm:{to.name if to else '?'}"
            self.transcript.append(Sent("post", destination, notice))
            return Posted(channel=destination, ts=f"{next(self._ts)}.000")

    def update(self, posted: Posted, notice: Notice) -> None:
        with self._lock:
            if self.fail_next:
                raise self.fail_next.pop(0)
            self.transcript.append(Sent("update", posted.channel, notice))
