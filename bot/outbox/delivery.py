"""Sending one claimed outbox row through its platform's ChatPort, and the one-pass `deliver_due`.

Everything a send needs is read before the network call, so no transaction is open during it. Any
exception after a claim ends as a recorded result: delivered, retry (counted toward MAX_ATTEMPTS),
rate-limited (the bucket paused for every worker) or failed for good.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.chat import ChatPort, DeliveryError, Posted, Profile, Recipient, TaskPort
from bot.outbox import claims, pacing
from bot.outbox.pacing import PACED, PostRate
from intake.notices import NOTICE, Notice
from storage.db import UnitOfWork, background, read_only
from storage.models import MessageRef, OutboxMessage, Person
from storage.types import utcnow

log = logging.getLogger(__name__)

OPERATIONS = ("post", "update", "profile", "reply", "task")
REPLY_ADDRESS = "reply_address"  # see bot.tasks


@dataclass(frozen=True)
class Work:
    """What sending one row needs, read before any network call."""

    id: int
    operation: str
    platform: str = ""
    notice: Notice | None = None
    channel: str | None = None
    to: Recipient | None = None
    ref_key: str | None = None
    targets: tuple[Posted, ...] = ()
    payload: dict[str, Any] | None = None  # a task's arguments
    address: str | None = None  # where a reply goes
    error: DeliveryError | None = None  # found unsendable while reading


def read_work(session: Session, message_id: int) -> Work:
    """The claimed row as Work."""
    message = session.get(OutboxMessage, message_id)
    assert message is not None
    to = None
    if message.person_id is not None:
        person = session.get(Person, message.person_id)
        if person is None:
            error = DeliveryError(f"person {message.person_id} no longer exists", permanent=True)
            return Work(message_id, message.operation, message.platform, error=error)
        to = Recipient(person.id, person.name, person.handles)
    if message.operation == "profile":
        return Work(message_id, "profile", message.platform, to=to)
    if message.operation == "task":
        return Work(message_id, "task", message.platform, payload=dict(message.payload))
    try:
        notice = NOTICE.validate_python(message.payload)
    except ValueError as exc:  # written by a newer or older version that no longer parses
        error = DeliveryError(f"unreadable: {exc}", permanent=True)
        return Work(message_id, message.operation, message.platform, error=error)
    if message.operation == "update":
        refs = session.scalars(
            select(MessageRef)
            .where(MessageRef.ref_key == message.ref_key, MessageRef.platform == message.platform)
            .order_by(MessageRef.id)
        ).all()
        targets = tuple(Posted(ref.channel, ref.ts) for ref in refs)
        return Work(message_id, "update", message.platform, notice, ref_key=message.ref_key, targets=targets)
    if message.operation == "reply":
        address = str(message.payload.get(REPLY_ADDRESS) or "")
        return Work(message_id, "reply", message.platform, notice, address=address)
    return Work(message_id, "post", message.platform, notice, channel=message.channel, to=to, ref_key=message.ref_key)


def send(port: ChatPort | TaskPort, work: Work) -> Posted | Profile | None:
    """Carry out one row's network call or task (no database transaction is open here)."""
    if work.error is not None:
        raise work.error
    if work.operation == "task":
        raise AssertionError("tasks are run by run_task, which records their completion with their effect")
    assert not hasattr(port, "run")
    chat: ChatPort = port  # type: ignore[assignment]
    return _send_chat(chat, work)


def run_task(
    factory: sessionmaker[Session], port: ChatPort | TaskPort, work: Work, owner: str, clock: Callable[[], dt.datetime]
) -> str:
    """Run a task; its completion is written in the same transaction as its effect, so it runs once."""
    if not isinstance(port, TaskRunnerLike):
        return claims.record_failure(factory, work.id, owner, f"{port.platform} runs no tasks", clock(), permanent=True)

    def done(session: Session) -> None:
        claims.mark_delivered_in(session, work.id, owner, clock())

    try:
        port.run(work.payload or {}, done=done)
    except claims.LeaseLost:
        log.warning("task %s: another worker took it over; its effect was not committed here", work.id)
        return "lost"
    except DeliveryError as exc:
        return claims.record_failure(factory, work.id, owner, str(exc), clock(), permanent=exc.permanent)
    except Exception as exc:  # the database, or a bug: retried, counted
        log.exception("task %s failed", work.id)
        return claims.record_failure(factory, work.id, owner, f"{type(exc).__name__}: {exc}", clock(), permanent=False)
    return "delivered"


@runtime_checkable
class TaskRunnerLike(Protocol):
    def run(self, payload: dict[str, Any], *, done: Callable[[Session], None]) -> None: ...


def _send_chat(port: ChatPort, work: Work) -> Posted | Profile | None:
    if work.operation == "reply":
        assert work.notice is not None
        port.reply(work.address or "", work.notice)
        return None
    if work.operation == "profile":
        assert work.to is not None
        return port.fetch_profile(work.to)
    assert work.notice is not None
    if work.operation == "update":
        for target in work.targets:
            port.update(target, work.notice)
        return None
    if work.to is not None:
        return port.post(work.notice, to=work.to)
    return port.post(work.notice, channel=work.channel)


def apply_profile(factory: sessionmaker[Session], person_id: int, profile: Profile) -> None:
    """Store what the platform said about a person (name, time zone)."""
    from intake import people

    with UnitOfWork(background(factory)) as uow:
        people.apply_profile(uow, person_id, profile.name, profile.tz, profile.email)


def deliver_claimed(
    factory: sessionmaker[Session],
    port: ChatPort | TaskPort,
    message_id: int,
    owner: str,
    clock: Callable[[], dt.datetime] = utcnow,
    work: Work | None = None,
    pace: PostRate | None = None,
) -> str:
    """Send a row this owner has claimed and record the result; "delivered", "retry", "paused" or "failed".

    `work` is what the claim read; without it the row is read here. A post waits for its turn at `pace`
    (the platform's workspace-wide rate) first.
    """
    if work is None:
        with UnitOfWork(read_only(factory)) as uow:  # a read: on SQLite it does not take the write lock
            work = read_work(uow.session, message_id)
    if work.operation == "task" and work.error is None:
        return run_task(factory, port, work, owner, clock)
    if pace is not None and work.operation in PACED and work.error is None:
        pace.wait()
    try:
        result = send(port, work)
    except DeliveryError as exc:
        now = clock()
        if exc.retry_after is not None and not exc.permanent:
            bucket = buckets_of(port)[work.operation]
            until = now + dt.timedelta(seconds=max(exc.retry_after, 0.5))
            claims.record_rate_limited(factory, message_id, owner, bucket=bucket, until=until, reason=str(exc))
            return "paused"
        if exc.unreachable and work.to is not None:
            claims.report_unreachable(factory, work.to.person_id, work.platform, str(exc), now)
        return claims.record_failure(factory, message_id, owner, str(exc), now, permanent=exc.permanent)
    except Exception as exc:  # a rendering bug must not wedge the queue behind it
        log.exception("outbox message %s could not be sent", message_id)
        return claims.record_failure(
            factory, message_id, owner, f"{type(exc).__name__}: {exc}", clock(), permanent=False
        )
    try:
        ref = None
        if isinstance(result, Posted) and work.ref_key:
            ref = (work.ref_key, work.platform, result.channel, result.ts)
        elif isinstance(result, Profile) and work.to is not None:
            apply_profile(factory, work.to.person_id, result)
        claims.record_delivered(factory, message_id, owner, clock(), ref=ref)
        return "delivered"
    except Exception as exc:  # sent, but the result could not be stored: a counted failure, never a loop
        log.exception("outbox message %s was sent but its result could not be recorded", message_id)
        try:
            return claims.record_failure(
                factory, message_id, owner, f"recording failed: {type(exc).__name__}: {exc}", clock(), permanent=False
            )
        except Exception:
            log.exception("outbox message %s: could not record the failure either; its lease will expire", message_id)
            return "unrecorded"


def buckets_of(port: ChatPort | TaskPort) -> dict[str, str]:
    """Each outbox operation's rate-limit bucket on this port, e.g. {"post": "slack:chat.postMessage"}."""
    return {op: f"{port.platform}:{port.bucket(op)}" for op in OPERATIONS}


def deliver_due(
    factory: sessionmaker[Session],
    ports: ChatPort | Mapping[str | None, ChatPort | TaskPort],
    *,
    now: dt.datetime | None = None,
    limit: int = 1000,
    post_rates: Mapping[str, float | None] | None = None,
) -> dict[str, int]:
    """Deliver what is claimable now, one row at a time, on this thread; counts per outcome.

    The console, the demo seed and tests use it; the worker process runs `OutboxWorker` instead.
    With `now` every claim is taken at that time (tests); otherwise at the moment it is taken. A single
    port takes rows of any platform (one platform per process); a mapping takes each platform's own.
    `post_rates` (platform -> posts a second) paces each platform's posts.
    """
    by_platform: dict[str | None, ChatPort | TaskPort] = (
        {None: ports} if not isinstance(ports, Mapping) else {k: v for k, v in ports.items()}
    )
    owner = f"pass-{uuid.uuid4().hex[:12]}"
    clock: Callable[[], dt.datetime] = (lambda: now) if now is not None else utcnow
    counts: dict[str, int] = {}
    paces = pacing.post_rates(post_rates)
    try:
        _deliver_each(factory, by_platform, owner, clock, limit, paces, counts)
    finally:
        for pace in paces.values():
            pace.close()
    return counts


def _deliver_each(
    factory: sessionmaker[Session],
    by_platform: Mapping[str | None, ChatPort | TaskPort],
    owner: str,
    clock: Callable[[], dt.datetime],
    limit: int,
    paces: Mapping[str, pacing.PostRate],
    counts: dict[str, int],
) -> None:
    for platform, port in by_platform.items():
        buckets = buckets_of(port)
        for _ in range(limit):
            claimed = claims.claim(
                factory,
                platform=platform,
                owner=owner,
                now=clock(),
                post_interval=port.post_interval,
                buckets=buckets,
                read=read_work,
            )
            if not claimed:
                break
            message_id, work = claimed[0]
            pace = paces.get(port.platform)
            outcome = deliver_claimed(factory, port, message_id, owner, clock=clock, work=work, pace=pace)
            counts[outcome] = counts.get(outcome, 0) + 1
