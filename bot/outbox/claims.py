"""Claiming outbox rows as leases, and recording what became of them.

A claim is a lease: `locked_until` (now + LEASE, taken at the moment of the claim) and `lease_owner`
(the worker that holds it). The holder renews it while it sends and releases it when it records the
result; a result is only recorded by the lease's holder. A row is claimable when it is due, nobody
holds it, its platform has not paused its rate-limit bucket, and nothing earlier to the same
destination is due or in flight, so one conversation receives its messages one at a time, in order.
Posts to one conversation are also paced by the platform's `post_interval`.

On PostgreSQL several workers claim at once with `FOR UPDATE SKIP LOCKED`; SQLite serialises
writers (BEGIN IMMEDIATE), which makes the same statements safe there.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from storage import repo
from storage.db import UnitOfWork, background
from storage.models import DeliveryPause, MessageRef, OutboxMessage

log = logging.getLogger(__name__)
T = TypeVar("T")

TASKS = "core"  # the platform of durable work (bot.tasks): never claimed by a chat port
LEASE = dt.timedelta(seconds=30)  # sends time out well within it (the Slack client's timeout is 20 s)
MAX_ATTEMPTS = 12


def backoff(attempts: int) -> dt.timedelta:
    """Delay before the next try: 5 s doubling per attempt, at most an hour."""
    return dt.timedelta(seconds=min(5 * 2 ** max(attempts - 1, 0), 3600))


def pause_ends(session: Session, buckets: dict[str, str], now: dt.datetime) -> dict[str, dt.datetime]:
    """When each operation whose bucket is paused now may go again (`buckets`: operation -> "platform:bucket")."""
    if not buckets:
        return {}
    ends = dict(
        session.execute(
            select(DeliveryPause.bucket, DeliveryPause.until).where(
                DeliveryPause.bucket.in_(set(buckets.values())), DeliveryPause.until > now
            )
        ).all()
    )
    return {op: ends[bucket] for op, bucket in buckets.items() if bucket in ends}


def paused_operations(session: Session, buckets: dict[str, str], now: dt.datetime) -> set[str]:
    """Operations whose rate-limit bucket is paused now (`buckets`: operation -> "platform:bucket")."""
    return set(pause_ends(session, buckets, now))


WINDOW = 64  # candidate rows looked at per step of a claim
MAX_WINDOWS = 8  # steps before a claim gives up for now (rows further on wait for the next claim)


def claim(
    factory: sessionmaker[Session],
    *,
    platform: str | None,
    owner: str,
    now: dt.datetime,
    limit: int = 1,
    post_interval: float = 0.0,
    buckets: dict[str, str] | None = None,
    paused: set[str] | None = None,
    read: Callable[[Session, int], T] | None = None,
) -> list[tuple[int, T | None]]:
    """Lease up to `limit` claimable rows of `platform` (None: any) to `owner`, oldest first.

    `paused` (operations whose bucket is paused) is read from the database unless given; `read`
    reads what sending each row needs in the same transaction. Returns (id, what `read` returned).

    Every statement is an index lookup bounded by the window, so the plan does not depend on the
    table's statistics (a queue table's are always stale): due rows are taken in id order (locked
    with SKIP LOCKED on PostgreSQL), then the rules are checked for just their destinations.
    """
    o = OutboxMessage
    with UnitOfWork(background(factory)) as uow:
        s = uow.session
        if paused is None:
            paused = paused_operations(s, buckets or {}, now)
        chosen: list[int] = []
        after = 0
        for _ in range(MAX_WINDOWS):
            query = (
                select(o)  # whole rows: what `read` needs is then in the session already
                .where(
                    o.delivered_at.is_(None),
                    o.failed_at.is_(None),
                    o.id > after,
                    o.next_attempt_at <= now,
                    or_(o.locked_until.is_(None), o.locked_until < now),
                    o.platform == platform if platform is not None else o.platform != TASKS,
                )
                .order_by(o.id)
                .limit(WINDOW)
            )
            if paused:
                query = query.where(o.operation.not_in(paused))
            if s.get_bind().dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True, of=o)
            window = list(s.scalars(query))
            if not window:
                break
            chosen += _claimable(s, window, now, post_interval)[: limit - len(chosen)]
            if len(chosen) >= limit or len(window) < WINDOW:
                break
            after = window[-1].id
        if not chosen:
            return []
        s.execute(
            update(o)
            .where(o.id.in_(chosen))
            .values(locked_until=now + LEASE, lease_owner=owner)
            .execution_options(synchronize_session=False)
        )
        claimed = [(message_id, read(s, message_id) if read else None) for message_id in chosen]
        uow.commit()
    return claimed


def _claimable(session: Session, window: Sequence[Any], now: dt.datetime, post_interval: float) -> list[int]:
    """The ids in `window` that are the head of their destination, not paced, and (updates) have their card."""
    o = OutboxMessage
    destinations = {row.destination for row in window}
    # The oldest row of each destination that is due or in flight: only it may go.
    head = dict(
        session.execute(
            select(o.destination, func.min(o.id))
            .where(
                o.destination.in_(destinations),
                o.delivered_at.is_(None),
                o.failed_at.is_(None),
                or_(o.next_attempt_at <= now, o.locked_until >= now),
            )
            .group_by(o.destination)
        ).all()
    )
    paced: set[str] = set()
    if post_interval > 0:
        recently = now - dt.timedelta(seconds=post_interval)
        paced = set(
            session.scalars(
                select(o.destination)
                .where(o.destination.in_(destinations), o.operation == "post", o.delivered_at > recently)
                .distinct()
            )
        )
    # An edit of a card waits until the card itself has been posted (or has failed for good).
    refs = {row.ref_key for row in window if row.operation == "update" and row.ref_key}
    first_card: dict[str | None, int] = {}
    if refs:
        first_card = dict(
            session.execute(
                select(o.ref_key, func.min(o.id))
                .where(o.ref_key.in_(refs), o.operation == "post", o.delivered_at.is_(None), o.failed_at.is_(None))
                .group_by(o.ref_key)
            ).all()
        )
    ok = []
    for row in window:
        if head.get(row.destination) != row.id:
            continue  # an earlier message to the same conversation goes first
        if row.operation == "post" and row.destination in paced:
            continue
        if row.operation == "update" and first_card.get(row.ref_key, row.id) < row.id:
            continue
        ok.append(row.id)
    return ok


def renew(factory: sessionmaker[Session], ids: Iterable[int], owner: str, now: dt.datetime) -> int:
    """Extend the leases `owner` still holds on `ids`; how many it holds."""
    ids = list(ids)
    if not ids:
        return 0
    with UnitOfWork(background(factory)) as uow:
        held = uow.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids), OutboxMessage.lease_owner == owner, OutboxMessage.delivered_at.is_(None))
            .values(locked_until=now + LEASE)
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
        uow.commit()
    return int(held)


def _finish(session: Session, message_id: int, owner: str, **values: object) -> bool:
    """Write a result and release the lease, only if `owner` still holds it."""
    done = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.lease_owner == owner)
        .values(locked_until=None, lease_owner=None, **values)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    if done != 1:
        log.warning("outbox message %s: the lease was lost before its result was recorded", message_id)
    return bool(done)


def mark_delivered_in(session: Session, message_id: int, owner: str, now: dt.datetime) -> None:
    """Mark a row delivered inside the caller's transaction (a task's effect and its completion commit together)."""
    if not _finish(session, message_id, owner, delivered_at=now):
        raise LeaseLost(message_id)


class LeaseLost(Exception):
    """Another worker holds the row now; this one's work must not commit."""


def record_delivered(
    factory: sessionmaker[Session],
    message_id: int,
    owner: str,
    now: dt.datetime,
    *,
    ref: tuple[str, str, str, str] | None = None,
) -> None:
    """Mark a row delivered at `now`; `ref` (ref_key, platform, channel, ts) remembers where a card landed."""
    with UnitOfWork(background(factory)) as uow:
        s = uow.session
        _finish(s, message_id, owner, delivered_at=now)
        if ref is not None:
            ref_key, platform, channel, ts = ref
            values = {"ref_key": ref_key, "platform": platform, "channel": channel, "ts": ts}
            repo.insert_ignoring_duplicates(s, MessageRef, values, ["platform", "channel", "ts"])
        uow.commit()


def record_failure(
    factory: sessionmaker[Session], message_id: int, owner: str, error: str, now: dt.datetime, *, permanent: bool
) -> str:
    """Count a failed attempt: retry after a back-off, or give up for good; returns "retry" or "failed"."""
    with UnitOfWork(background(factory)) as uow:
        s = uow.session
        message = s.get(OutboxMessage, message_id)
        assert message is not None
        attempts = message.attempts + 1
        values: dict[str, object] = {"attempts": attempts, "last_error": error[:2000]}
        if permanent or attempts >= MAX_ATTEMPTS:
            values["failed_at"] = now
            outcome = "failed"
            log.error("outbox message %s failed for good after %s attempt(s): %s", message_id, attempts, error)
        else:
            delay = backoff(attempts)
            values["next_attempt_at"] = now + delay
            outcome = "retry"
            log.warning("outbox message %s will retry in %ss: %s", message_id, delay.total_seconds(), error)
        _finish(s, message_id, owner, **values)
        uow.commit()
    return outcome


UNREACHABLE = "unreachable"  # audit action: the leads were told a person cannot be reached on a platform


def report_unreachable(
    factory: sessionmaker[Session], person_id: int, platform: str, why: str, now: dt.datetime
) -> None:
    """Tell the hub's leads, once per person and platform, that messages to someone cannot reach them yet."""
    from intake.notices import HUB, Unreachable
    from intake.read_models import PersonView, jsonable
    from storage import repo
    from storage.models import AuditEvent, Person

    with UnitOfWork(background(factory)) as uow:
        s = uow.session
        told = s.scalars(select(AuditEvent.after).where(AuditEvent.action == UNREACHABLE)).all()
        if any((a or {}).get("person_id") == person_id and (a or {}).get("platform") == platform for a in told):
            return
        person = s.get(Person, person_id)
        if person is None:
            return
        leads = [PersonView.of(p, with_skills=False) for p in s.scalars(select(Person).where(Person.is_lead.is_(True)))]
        notice = Unreachable(person=PersonView.of(person, with_skills=False), platform=platform, why=why, leads=leads)
        repo.enqueue(s, jsonable(notice), channel=HUB, at=now)
        repo.audit(s, action=UNREACHABLE, actor_id=None, after={"person_id": person_id, "platform": platform}, at=now)
        uow.commit()


def record_rate_limited(
    factory: sessionmaker[Session],
    message_id: int,
    owner: str,
    *,
    bucket: str,
    until: dt.datetime,
    reason: str,
) -> None:
    """Pause `bucket` for every worker until `until`, and put the row back for then (not a failed attempt)."""
    with UnitOfWork(background(factory)) as uow:
        s = uow.session
        repo.upsert(s, DeliveryPause, {"bucket": bucket, "until": until, "reason": reason[:500]}, ["bucket"])
        _finish(s, message_id, owner, next_attempt_at=until, last_error=reason[:2000])
        uow.commit()
    log.warning("%s paused until %s: %s", bucket, until.isoformat(timespec="seconds"), reason)
