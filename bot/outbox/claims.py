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
from collections.abc import Iterable

from sqlalchemy import exists, or_, select, update
from sqlalchemy.orm import Session, aliased, sessionmaker

from storage import repo
from storage.db import UnitOfWork
from storage.models import DeliveryPause, MessageRef, OutboxMessage

log = logging.getLogger(__name__)

LEASE = dt.timedelta(seconds=30)  # sends time out well within it (the Slack client's timeout is 20 s)
MAX_ATTEMPTS = 12


def backoff(attempts: int) -> dt.timedelta:
    """Delay before the next try: 5 s doubling per attempt, at most an hour."""
    return dt.timedelta(seconds=min(5 * 2 ** max(attempts - 1, 0), 3600))


def paused_operations(session: Session, buckets: dict[str, str], now: dt.datetime) -> set[str]:
    """Operations whose rate-limit bucket is paused now (`buckets`: operation -> "platform:bucket")."""
    if not buckets:
        return set()
    paused = set(
        session.scalars(
            select(DeliveryPause.bucket).where(
                DeliveryPause.bucket.in_(set(buckets.values())), DeliveryPause.until > now
            )
        )
    )
    return {op for op, bucket in buckets.items() if bucket in paused}


def claim(
    factory: sessionmaker[Session],
    *,
    platform: str | None,
    owner: str,
    now: dt.datetime,
    limit: int = 1,
    post_interval: float = 0.0,
    buckets: dict[str, str] | None = None,
) -> list[int]:
    """Lease up to `limit` claimable rows of `platform` (None: any) to `owner`; their ids, oldest first."""
    o = OutboxMessage
    earlier = aliased(OutboxMessage)
    card = aliased(OutboxMessage)
    sent = aliased(OutboxMessage)
    with UnitOfWork(factory) as uow:
        s = uow.session
        busy_before = exists().where(
            earlier.destination == o.destination,
            earlier.platform == o.platform,
            earlier.id < o.id,
            earlier.delivered_at.is_(None),
            earlier.failed_at.is_(None),
            or_(earlier.next_attempt_at <= now, earlier.locked_until >= now),
        )
        # An edit of a card waits until the card itself has been posted (or has failed for good).
        card_pending = exists().where(
            card.ref_key == o.ref_key,
            card.operation == "post",
            card.id < o.id,
            card.delivered_at.is_(None),
            card.failed_at.is_(None),
        )
        query = select(o.id).where(
            o.delivered_at.is_(None),
            o.failed_at.is_(None),
            o.next_attempt_at <= now,
            or_(o.locked_until.is_(None), o.locked_until < now),
            ~busy_before,
            or_(o.operation != "update", ~card_pending),
        )
        if post_interval > 0:
            recently = now - dt.timedelta(seconds=post_interval)
            paced = exists().where(
                sent.destination == o.destination,
                sent.platform == o.platform,
                sent.operation == "post",
                sent.delivered_at > recently,
            )
            query = query.where(or_(o.operation != "post", ~paced))
        if platform is not None:
            query = query.where(o.platform == platform)
        paused = paused_operations(s, buckets or {}, now)
        if paused:
            query = query.where(o.operation.not_in(paused))
        query = query.order_by(o.id).limit(limit)
        if s.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True, of=o)
        ids = list(s.scalars(query))
        if ids:
            s.execute(
                update(o)
                .where(o.id.in_(ids))
                .values(locked_until=now + LEASE, lease_owner=owner)
                .execution_options(synchronize_session=False)
            )
            uow.commit()
    return ids


def renew(factory: sessionmaker[Session], ids: Iterable[int], owner: str, now: dt.datetime) -> int:
    """Extend the leases `owner` still holds on `ids`; how many it holds."""
    ids = list(ids)
    if not ids:
        return 0
    with UnitOfWork(factory) as uow:
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


def record_delivered(
    factory: sessionmaker[Session],
    message_id: int,
    owner: str,
    now: dt.datetime,
    *,
    ref: tuple[str, str, str, str] | None = None,
) -> None:
    """Mark a row delivered at `now`; `ref` (ref_key, platform, channel, ts) remembers where a card landed."""
    with UnitOfWork(factory) as uow:
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
    with UnitOfWork(factory) as uow:
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
    with UnitOfWork(factory) as uow:
        s = uow.session
        repo.upsert(s, DeliveryPause, {"bucket": bucket, "until": until, "reason": reason[:500]}, ["bucket"])
        _finish(s, message_id, owner, next_attempt_at=until, last_error=reason[:2000])
        uow.commit()
    log.warning("%s paused until %s: %s", bucket, until.isoformat(timespec="seconds"), reason)
