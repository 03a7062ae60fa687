"""People, platform-neutral: who a platform's user is, their identities, linking, their profile.

A person has any number of identities (a platform and that platform's id for them: a Slack user id,
a Teams user id, a console name). Adapters hand the core a `PersonRef` and get an `Actor` back;
nothing past this module knows which platform anyone came from.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from intake.errors import HubError, NotAllowed, NotFound
from intake.read_models import Actor, PersonView
from storage import evidence, repo
from storage.db import UnitOfWork
from storage.models import Identity, Person

SLACK = "slack"
TEAMS = "teams"
CONSOLE = "console"
PLATFORMS = (SLACK, TEAMS, CONSOLE)

# Platforms whose API says who a user is (real name, time zone, e-mail): read once, as durable work.
PROFILED = frozenset({SLACK, TEAMS})

# A person's last-seen time is refreshed at most this often: often enough to know where they are
# now, rarely enough that answering a request seldom writes.
SEEN_EVERY = dt.timedelta(hours=6)

# The CLI acts as the hub itself: a lead with no person behind it.
SYSTEM = Actor(person_id=0, name="hubspoke CLI", is_reviewer=False, is_lead=True)


@dataclass(frozen=True)
class PersonRef:
    """A person as one platform refers to them: its id for them, and what it says their name is."""

    platform: str
    external_id: str
    name: str | None = None
    email: str | None = None


def actor_of(person: Person) -> Actor:
    """The Actor for a stored person, with the roles stored now."""
    return Actor(
        person_id=person.id,
        name=person.name,
        is_reviewer=person.is_reviewer,
        is_lead=person.is_lead,
        tz=person.tz,
        handles=person.handles,
    )


def find(session: Session, ref: PersonRef) -> Person | None:
    """The person behind a platform id, if they have used Hubspoke (or been named in it)."""
    return repo.person_by_identity(session, ref.platform, ref.external_id)


def person_id_for(uow: UnitOfWork, ref: PersonRef) -> int | None:
    """The person id behind a platform id, if they are known."""
    person = find(uow.session, ref)
    return person.id if person else None


def _email_key(email: str | None) -> str | None:
    clean = (email or "").strip().lower()
    return clean if "@" in clean and len(clean) <= 254 else None


def _new_person(session: Session, ref: PersonRef, now: dt.datetime) -> Person:
    """A person for a platform id nobody has used yet; joined to the person with the same e-mail."""
    email = _email_key(ref.email)
    person = session.scalar(select(Person).where(Person.email == email)) if email else None
    if person is None:
        person = Person(name=(ref.name or ref.external_id)[:120], email=email, created_at=now)
        session.add(person)
    person.identities.append(
        Identity(platform=ref.platform, external_id=ref.external_id, created_at=now, last_seen_at=now)
    )
    session.flush()
    if ref.platform in PROFILED:
        # Read their real name and time zone from the platform, after this request, as durable work.
        repo.enqueue(session, {}, operation="profile", person_id=person.id, platform=ref.platform, at=now)
    return person


def person_for(uow: UnitOfWork, ref: PersonRef, now: dt.datetime) -> Person:
    """The person behind a platform id, created (with a placeholder name) when they are new."""
    return find(uow.session, ref) or _new_person(uow.session, ref, now)


def _identity(person: Person, platform: str) -> Identity | None:
    return next((i for i in person.identities if i.platform == platform), None)


def find_actor(uow: UnitOfWork, ref: PersonRef, *, leads: frozenset[str] | None) -> Actor | None:
    """The Actor for a known person whose record needs no update, else None (resolve it instead)."""
    person = find(uow.session, ref)
    if person is None or (leads is not None and ref.external_id in leads and not person.is_lead):
        return None
    if ref.name and person.name == ref.external_id:
        return None
    seen = _identity(person, ref.platform)
    if seen is None or seen.last_seen_at is None or seen.last_seen_at < dt.datetime.now(dt.UTC) - SEEN_EVERY:
        return None
    return actor_of(person)


def resolve_actor(
    uow: UnitOfWork,
    ref: PersonRef,
    *,
    leads: frozenset[str] | None = None,
    first_is_lead: bool = False,
    now: dt.datetime,
) -> tuple[Actor, bool]:
    """The Actor for a platform's user, creating their person on first sight; True when newly created.

    `leads` are the platform ids configured as hub leads (HUB_LEADS): they are made leads on sight,
    a bootstrap; leads are otherwise added and removed in the hub (`/hub lead add|remove`), which a
    configured lead's next request does not undo unless they are still configured. `first_is_lead`
    makes the first person of a hub with no lead a lead, so a fresh console (or one on an imported
    register) can set the hub up.
    """
    if not ref.external_id:
        raise HubError("Who are you? Give a name.")
    s = uow.session
    person = find(s, ref)
    created = person is None
    try:
        if person is None:
            first = first_is_lead and not repo.has_lead(s)
            person = _new_person(s, ref, now)
            if first:
                person.is_lead = True
                why = "first user of a hub with no lead"
                repo.audit(s, action="lead_added", actor_id=person.id, after={"person": person.id, "why": why}, at=now)
        else:
            if ref.name and person.name == ref.external_id:
                person.name = ref.name[:120]
            seen = _identity(person, ref.platform)
            if seen is not None and (seen.last_seen_at is None or seen.last_seen_at < now - SEEN_EVERY):
                seen.last_seen_at = now
        if leads is not None and ref.external_id in leads and not person.is_lead:
            person.is_lead = True
            why = "configured in HUB_LEADS"
            repo.audit(s, action="lead_added", actor_id=person.id, after={"person": person.id, "why": why}, at=now)
        if created or s.new or s.dirty:
            uow.commit()
    except IntegrityError:  # the same person's first two requests raced; the other one won
        s.rollback()
        person = find(s, ref)
        if person is None:
            raise
        created = False
    return actor_of(person), created


def apply_profile(uow: UnitOfWork, person_id: int, name: str | None, tz: str | None, email: str | None = None) -> None:
    """Store the display name, time zone and e-mail a platform reports for a person.

    An e-mail another person already has links the two: they are one person on two platforms.
    """
    person = uow.session.get(Person, person_id)
    if person is None:
        return
    if name:
        person.name = name[:120]
    if tz:
        try:
            ZoneInfo(tz)
            person.tz = tz
        except (ZoneInfoNotFoundError, ValueError):
            pass
    email = _email_key(email)
    if email and person.email != email:
        other = uow.session.scalar(select(Person).where(Person.email == email))
        if other is None:
            person.email = email
        elif other.id != person.id:
            _merge(uow.session, keep=other, gone=person, now=dt.datetime.now(dt.UTC))
    uow.commit()


def link_people(uow: UnitOfWork, actor: Actor, a: PersonRef, b: PersonRef, *, now: dt.datetime) -> PersonView:
    """Make two platform ids one person (hub leads only): the person with more history is kept."""
    if not actor.is_lead:
        raise NotAllowed("Only hub leads can link people.")
    first, second = find(uow.session, a), find(uow.session, b)
    if first is None or second is None:
        missing = a if first is None else b
        raise NotFound(f"Nobody is known as {missing.platform}:{missing.external_id} yet.")
    if first.id != second.id:
        keep, gone = sorted((first, second), key=lambda p: p.id)
        _merge(uow.session, keep=keep, gone=gone, now=now)
        repo.audit(
            uow.session,
            action="people_linked",
            actor_id=actor.person_id or None,
            before={"people": [keep.id, gone.id]},
            after={"person": keep.id, "handles": keep.handles},
            at=now,
        )
        first = keep
    view = PersonView.of(first)
    uow.commit()
    return view


def _merge(session: Session, *, keep: Person, gone: Person, now: dt.datetime) -> None:
    """Fold `gone` into `keep`: identities, roles, skills and everything that points at a person.

    Rows move with bulk statements (every table that refers to a person), so nothing depends on
    what happens to be loaded; the session forgets both people and reads the kept one afresh.
    """
    keep.is_reviewer = keep.is_reviewer or gone.is_reviewer
    keep.is_lead = keep.is_lead or gone.is_lead
    keep.tz = keep.tz or gone.tz
    keep.department_id = keep.department_id or gone.department_id
    email = keep.email or gone.email
    keep_id, gone_id = keep.id, gone.id
    gone.email = None
    session.flush()
    repo.repoint_person(session, gone_id, keep_id)
    session.expunge(gone)
    session.execute(delete(Person).where(Person.id == gone_id))
    session.expire_all()
    kept = session.get(Person, keep_id)
    assert kept is not None
    kept.email = email
    session.flush()
    evidence.sync_skills(session, kept, now)


def ref_from_handle(text: str, name: str | None = None) -> PersonRef:
    """A person from how an operator writes them: `U012ABC` (Slack), `teams:29:1ab…`, `console:rita`."""
    platform, sep, external_id = text.strip().partition(":")
    if sep and platform.lower() in PLATFORMS and external_id:
        return PersonRef(platform.lower(), external_id, name)
    return PersonRef(SLACK, text.strip(), name)
