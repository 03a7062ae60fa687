"""Outbox delivery: claim due messages, send them through the ChatPort, retry with back-off."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.chat import ChatPort, DeliveryError, Posted, Recipient
from intake.notices import NOTICE, Notice
from storage.db import UnitOfWork, read_only
from storage.models import MessageRef, OutboxMessage, Person
from storage.types import utcnow

log = logging.getLogger(__name__)

CLAIM_SECONDS = 60
MAX_ATTEMPTS = 12
WAIT_FOR_POST = dt.timedelta(seconds=2)


def backoff(attempts: int) -> dt.timedelta:
    """Delay before the next try: 5 s doubling per attempt, at most an hour."""
    return dt.timedelta(seconds=min(5 * 2 ** max(attempts - 1, 0), 3600))


def _claim(factory: sessionmaker[Session], message_id: int, now: dt.datetime) -> _Work | None:
    """Take a message for CLAIM_SECONDS, so two workers never send the same one; what sending it needs."""
    with UnitOfWork(factory) as uow:
        claimed = uow.session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id == message_id,
                OutboxMessage.delivered_at.is_(None),
                OutboxMessage.failed_at.is_(None),
                or_(OutboxMessage.locked_until.is_(None), OutboxMessage.locked_until < now),
            )
            .values(locked_until=now + dt.timedelta(seconds=CLAIM_SECONDS))
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
        if claimed != 1:
            return None
        work = _read(uow.session, message_id)
        uow.commit()
    return work


def _earlier_post_pending(session: Session, message: OutboxMessage) -> bool:
    return (
        session.scalar(
            select(OutboxMessage.id).where(
                OutboxMessage.ref_key == message.ref_key,
                OutboxMessage.operation == "post",
                OutboxMessage.id < message.id,
                OutboxMessage.delivered_at.is_(None),
                OutboxMessage.failed_at.is_(None),
            )
        )
        is not None
    )


@dataclass(frozen=True)
class _Work:
    """What sending one message needs, read before any network call so no lock is held during it."""

    operation: str
    notice: Notice | None
    channel: str | None
    to: Recipient | None
    ref_key: str | None
    targets: tuple[Posted, ...] = ()
    blocked: bool = False  # an update waiting for the post of the message it edits
    error: DeliveryError | None = None  # found unsendable while reading


def _read(s: Session, message_id: int) -> _Work:
    message = s.get(OutboxMessage, message_id)
    assert message is not None
    try:
        notice = NOTICE.validate_python(message.payload)
    except ValueError as exc:  # written by a newer or older version that no longer parses
        return _Work("post", None, None, None, None, error=DeliveryError(f"unreadable: {exc}", permanent=True))
    if message.operation == "update":
        if _earlier_post_pending(s, message):
            return _Work("update", notice, None, None, message.ref_key, blocked=True)
        refs = s.scalars(select(MessageRef).where(MessageRef.ref_key == message.ref_key)).all()
        targets = tuple(Posted(ref.channel, ref.ts) for ref in refs)
        return _Work("update", notice, None, None, message.ref_key, targets)
    to = None
    if message.person_id is not None:
        person = s.get(Person, message.person_id)
        if person is None:
            error = DeliveryError(f"person {message.person_id} no longer exists", permanent=True)
            return _Work("post", notice, None, None, None, error=error)
        to = Recipient(person.id, person.name, person.slack_user_id, person.teams_user_id)
    return _Work("post", notice, message.channel, to, message.ref_key)


def _send(chat: ChatPort, work: _Work) -> Posted | None:
    """Send one message (no database transaction is open here)."""
    if work.error is not None:
        raise work.error
    assert work.notice is not None
    if work.operation == "update":
        for target in work.targets:
            chat.update(target, work.notice)
        return None
    if work.to is not None:
        return chat.post(work.notice, to=work.to)
    return chat.post(work.notice, channel=work.channel)


def deliver_one(factory: sessionmaker[Session], chat: ChatPort, work: _Work, message_id: int, now: dt.datetime) -> str:
    """Deliver a claimed message and record the result: delivered, waiting, retry or failed."""
    try:
        posted = None if work.blocked else _send(chat, work)
    except DeliveryError as exc:
        return _record_failure(factory, message_id, exc, now)
    except Exception as exc:  # a rendering bug must not wedge the queue behind it
        log.exception("outbox message %s could not be sent", message_id)
        return _record_failure(factory, message_id, DeliveryError(f"{type(exc).__name__}: {exc}"), now)
    with UnitOfWork(factory) as uow:
        message = uow.session.get(OutboxMessage, message_id)
        assert message is not None
        if work.blocked:
            message.next_attempt_at = now + WAIT_FOR_POST
            outcome = "waiting"
        else:
            message.delivered_at = now
            outcome = "delivered"
            if posted is not None and work.ref_key:
                ref = MessageRef(ref_key=work.ref_key, platform=chat.platform, channel=posted.channel, ts=posted.ts)
                uow.session.add(ref)
        message.locked_until = None
        uow.commit()
        return outcome


def _record_failure(factory: sessionmaker[Session], message_id: int, exc: DeliveryError, now: dt.datetime) -> str:
    with UnitOfWork(factory) as uow:
        message = uow.session.get(OutboxMessage, message_id)
        assert message is not None
        message.attempts += 1
        message.last_error = str(exc)[:2000]
        message.locked_until = None
        if exc.permanent or message.attempts >= MAX_ATTEMPTS:
            message.failed_at = now
            log.error("outbox message %s failed for good after %s attempts: %s", message_id, message.attempts, exc)
            outcome = "failed"
        else:
            delay = dt.timedelta(seconds=exc.retry_after) if exc.retry_after else backoff(message.attempts)
            message.next_attempt_at = now + delay
            log.warning("outbox message %s will retry in %ss: %s", message_id, delay.total_seconds(), exc)
            outcome = "retry"
        uow.commit()
        return outcome


def deliver_due(
    factory: sessionmaker[Session], chat: ChatPort, *, now: dt.datetime | None = None, limit: int = 100
) -> dict[str, int]:
    """Deliver every message that is due, oldest first; returns counts per outcome."""
    now = now or utcnow()
    with UnitOfWork(read_only(factory)) as uow:
        due = uow.session.scalars(
            select(OutboxMessage.id)
            .where(
                OutboxMessage.delivered_at.is_(None),
                OutboxMessage.failed_at.is_(None),
                OutboxMessage.next_attempt_at <= now,
                or_(OutboxMessage.locked_until.is_(None), OutboxMessage.locked_until < now),
            )
            .order_by(OutboxMessage.id)
            .limit(limit)
        ).all()
    counts: dict[str, int] = {}
    for message_id in due:
        work = _claim(factory, message_id, now)
        if work is None:
            continue
        outcome = deliver_one(factory, chat, work, message_id, now)
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


class OutboxWorker:
    """A background thread that delivers the outbox, woken at once after each commit."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        chat: ChatPort,
        *,
        interval: float = 5.0,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self._factory = factory
        self._chat = chat
        self._interval = interval
        self._clock = clock
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start delivering in the background."""
        self._thread = threading.Thread(target=self._run, name="hubspoke-outbox", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Deliver now rather than at the next interval."""
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop after the current batch."""
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._interval)
            self._wake.clear()
            try:
                while deliver_due(self._factory, self._chat, now=self._clock()).get("delivered"):
                    if self._stop.is_set():
                        break
            except Exception:
                log.exception("outbox delivery pass failed; retrying in %ss", self._interval)
