"""Repository helpers over a session. They read and stage writes; they never commit."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from storage.db import HUB_PLATFORMS, PLATFORMS
from storage.evidence import Kind
from storage.models import (
    AuditEvent,
    Base,
    Department,
    Evidence,
    HubSetting,
    Identity,
    OutboxMessage,
    Person,
    PersonSkill,
    ProcessedEvent,
    Review,
    UseCase,
)

OUTBOX_CHANNEL = "hubspoke_outbox"  # PostgreSQL NOTIFY channel workers listen on (see migration 0004)


def department_key(name: str) -> str:
    """The case-folded, space-normalised key departments are unique by."""
    return " ".join(name.split()).casefold()


def find_department(session: Session, name: str) -> Department | None:
    """A department by name, ignoring case and spacing."""
    return session.scalar(select(Department).where(Department.key == department_key(name)))


def departments(session: Session) -> list[Department]:
    return list(session.scalars(select(Department).order_by(Department.name)))


def person_by_identity(session: Session, platform: str, external_id: str) -> Person | None:
    """The person a platform knows by `external_id`."""
    return session.scalar(
        select(Person).join(Identity).where(Identity.platform == platform, Identity.external_id == external_id)
    )


def repoint_person(session: Session, gone: int, keep: int) -> None:
    """Point every row that refers to person `gone` at person `keep` (two records of one person)."""
    kept_skills = select(PersonSkill.skill).where(PersonSkill.person_id == keep)
    session.execute(delete(PersonSkill).where(PersonSkill.person_id == gone, PersonSkill.skill.in_(kept_skills)))
    session.execute(
        delete(Evidence).where(Evidence.person_id == gone, Evidence.kind == Kind.DECLARED_SKILL.value)
    )  # re-derived for the kept person
    people = Person.__table__
    for table in Base.metadata.sorted_tables:
        for fk in table.foreign_keys:
            if fk.column.table is people and table is not people:
                column = fk.parent
                session.execute(update(table).where(column == gone).values({column.name: keep}))


def has_lead(session: Session) -> bool:
    """True once the hub has a lead."""
    return session.scalar(select(Person.id).where(Person.is_lead.is_(True)).limit(1)) is not None


def has_people(session: Session) -> bool:
    """True once anyone at all has used the hub."""
    return session.scalar(select(Person.id).limit(1)) is not None


def open_review_counts(session: Session) -> dict[int, int]:
    """Undecided reviews per reviewer."""
    rows = session.execute(
        select(Review.reviewer_id, func.count())
        .where(Review.decision.is_(None), Review.reviewer_id.is_not(None))
        .group_by(Review.reviewer_id)
    )
    return {rid: n for rid, n in rows if rid is not None}


def reviewers(session: Session) -> list[Person]:
    """Hub reviewers with their skills."""
    query = select(Person).options(selectinload(Person.skills)).where(Person.is_reviewer.is_(True))
    return list(session.scalars(query.order_by(Person.name)))


def current_review(session: Session, use_case_id: int) -> Review | None:
    """The newest review round of a use case."""
    return session.scalar(
        select(Review).where(Review.use_case_id == use_case_id).order_by(Review.round.desc()).limit(1)
    )


def use_cases_of(session: Session, person_id: int) -> list[UseCase]:
    return list(
        session.scalars(select(UseCase).where(UseCase.submitter_id == person_id).order_by(UseCase.updated_at.desc()))
    )


def review_queue(session: Session, person_id: int) -> list[UseCase]:
    """Use cases waiting on this reviewer's decision, oldest first."""
    return list(
        session.scalars(
            select(UseCase)
            .join(Review, Review.use_case_id == UseCase.id)
            .where(Review.reviewer_id == person_id, Review.decision.is_(None))
            .order_by(Review.opened_at)
        )
    )


def audit(
    session: Session,
    *,
    action: str,
    actor_id: int | None,
    use_case_id: int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    at: dt.datetime,
) -> None:
    """Record a state change in the audit trail."""
    session.add(
        AuditEvent(action=action, actor_id=actor_id, use_case_id=use_case_id, before=before, after=after, at=at)
    )


def audits_of(session: Session, use_case_id: int, actions: tuple[str, ...]) -> list[AuditEvent]:
    """A use case's audit rows with one of these actions, newest first."""
    return list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.use_case_id == use_case_id, AuditEvent.action.in_(actions))
            .order_by(AuditEvent.id.desc())
        )
    )


def destination_of(operation: str, *, channel: str | None, person_id: int | None, ref_key: str | None) -> str:
    """The conversation an outbox row goes to: rows to one destination are sent one at a time, in order."""
    if operation == "update":
        return f"ref:{ref_key}"
    if person_id is not None:
        return f"person:{person_id}"
    return "hub" if channel == "hub" else f"channel:{channel}"


DEFAULT_PLATFORMS = ("slack",)  # where a deployment that has not said (storage.db.configure_delivery) delivers


def enqueue(
    session: Session,
    payload: dict[str, Any],
    *,
    at: dt.datetime,
    channel: str | None = None,
    person_id: int | None = None,
    ref_key: str | None = None,
    operation: str = "post",
    platform: str | None = None,
    destination: str | None = None,
    not_before: dt.datetime | None = None,
) -> None:
    """Stage an outbound message (or durable work) in the outbox, in the caller's transaction.

    Without `platform`, where it goes is resolved here: a person's message to the platform they
    use (the one they spoke to the bot on most recently, among those this deployment delivers to;
    else their latest, so it waits for a sender of that platform rather than being dropped); a hub
    post to every platform with a hub channel; a card's update to every platform the card went to.
    `destination` (default: derived from where it goes) names what the row is ordered within; a
    message going to several platforms gets one row per platform, each its own destination.
    `not_before` holds it back until then (a person's working hours); it is created `at`.
    """
    if operation == "post" and (channel is None) == (person_id is None):
        raise ValueError("a post goes to exactly one of channel or person")
    if platform is not None:
        targets: tuple[str, ...] = (platform,)
    elif person_id is not None:
        targets = (platform_for(session, person_id),)
    elif channel == "hub":
        targets = tuple(session.info.get(HUB_PLATFORMS) or ()) or _served(session)[:1]
    elif operation == "update":
        targets = _card_platforms(session, ref_key) or _served(session)[:1]
    else:
        targets = _served(session)[:1]
    targets = tuple(dict.fromkeys(targets))
    base = destination or destination_of(operation, channel=channel, person_id=person_id, ref_key=ref_key)
    for target in targets:
        session.add(
            OutboxMessage(
                operation=operation,
                platform=target,
                channel=channel,
                person_id=person_id,
                ref_key=ref_key,
                # Each platform's copy is its own conversation, ordered on its own.
                destination=base if len(targets) == 1 else f"{base}@{target}",
                payload=payload,
                created_at=at,
                next_attempt_at=max(at, not_before) if not_before else at,
            )
        )
    # On PostgreSQL a statement trigger NOTIFYs OUTBOX_CHANNEL (migration 0004): every worker wakes when
    # this transaction commits, at no extra round trip.


def _served(session: Session) -> tuple[str, ...]:
    return tuple(session.info.get(PLATFORMS) or DEFAULT_PLATFORMS)


def platform_for(session: Session, person_id: int) -> str:
    """The platform a person's messages go to: where they were seen last, preferring ones delivered to."""
    rows = session.execute(
        select(Identity.platform, Identity.last_seen_at, Identity.id).where(Identity.person_id == person_id)
    ).all()
    if not rows:
        return _served(session)[0]  # nobody to reach: its sender reports it as undeliverable, with why
    served = _served(session)
    epoch = dt.datetime.min.replace(tzinfo=dt.UTC)

    def rank(row: Any) -> tuple[bool, dt.datetime, int]:
        return (row.platform in served, row.last_seen_at or epoch, row.id)

    return str(max(rows, key=rank).platform)


def _card_platforms(session: Session, ref_key: str | None) -> tuple[str, ...]:
    """The platforms a card was (or is about to be) posted to."""
    if ref_key is None:
        return ()
    o = OutboxMessage
    found = session.scalars(
        select(o.platform).where(o.ref_key == ref_key, o.operation == "post").distinct().order_by(o.platform)
    )
    return tuple(found)


def get_setting(session: Session, key: str) -> dict[str, Any] | None:
    row = session.get(HubSetting, key)
    return dict(row.value) if row else None


def put_setting(session: Session, key: str, value: dict[str, Any], at: dt.datetime) -> None:
    row = session.get(HubSetting, key)
    if row is None:
        session.add(HubSetting(key=key, value=value, updated_at=at))
    else:
        row.value = value
        row.updated_at = at


def claim_event(session: Session, event_id: str, at: dt.datetime) -> bool:
    """Record an event id; False when it was already processed (a Slack retry)."""
    if session.get(ProcessedEvent, event_id) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(ProcessedEvent(event_id=event_id, received_at=at))
    except IntegrityError:
        return False
    return True


def _insert_for(session: Session, model: type[Any]) -> Any:
    """The dialect's INSERT with ON CONFLICT support (SQLite and PostgreSQL share the API)."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(model)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(model)


def insert_ignoring_duplicates(session: Session, model: type[Any], values: dict[str, Any], keys: list[str]) -> None:
    """INSERT a row unless one with the same `keys` exists (no exception, no savepoint)."""
    session.execute(_insert_for(session, model).values(**values).on_conflict_do_nothing(index_elements=keys))


def upsert(session: Session, model: type[Any], values: dict[str, Any], keys: list[str]) -> None:
    """INSERT a row, or update the one with the same `keys` to `values`."""
    stmt = _insert_for(session, model).values(**values)
    changes = {k: stmt.excluded[k] for k in values if k not in keys}
    session.execute(stmt.on_conflict_do_update(index_elements=keys, set_=changes))
