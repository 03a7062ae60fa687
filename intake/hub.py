"""Hub administration: people and their roles, reviewers, departments, the self-serve guidelines."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from intake.errors import HubError, NotAllowed, NotFound
from intake.read_models import Actor, PersonView
from intake.schema import Sensitivity
from intake.services import GUIDELINES_KEY, load_guidelines
from intake.triage import Guidelines
from storage import evidence, repo
from storage.db import UnitOfWork
from storage.models import Department, Person, PersonSkill

NOT_A_REVIEWER = "That person is not a hub reviewer (a lead adds them with /hub reviewer add)."

# The CLI acts as the hub itself: a lead with no person behind it.
SYSTEM = Actor(person_id=0, name="hubspoke CLI", slack_user_id=None, is_reviewer=False, is_lead=True)

SLACK = "slack"
CONSOLE = "console"


def _require_lead(actor: Actor) -> None:
    if not actor.is_lead:
        raise NotAllowed("Only hub leads can change the hub's set-up. Ask a lead (see /hub help).")


def _actor_id(actor: Actor) -> int | None:
    return actor.person_id or None


def resolve_slack_actor(
    uow: UnitOfWork, slack_user_id: str, *, name: str | None, leads: frozenset[str], now: dt.datetime
) -> tuple[Actor, bool]:
    """The Actor for a Slack user, creating their person on first sight; True when newly created."""
    s = uow.session
    person = repo.person_by_slack_id(s, slack_user_id)
    created = False
    if person is None:
        person = Person(slack_user_id=slack_user_id, name=name or slack_user_id, created_at=now)
        s.add(person)
        created = True
    elif name and person.name == person.slack_user_id:
        person.name = name
    is_lead = slack_user_id in leads
    if person.is_lead != is_lead:
        person.is_lead = is_lead
    if created or s.new or s.dirty:
        try:
            if created:
                s.flush()
                _read_profile_later(s, person, now)
            uow.commit()
        except IntegrityError:  # the same person's first two requests raced; the other one won
            s.rollback()
            person = repo.person_by_slack_id(s, slack_user_id)
            assert person is not None
            created = False
    return Actor(person.id, person.name, person.slack_user_id, person.is_reviewer, person.is_lead, person.tz), created


def find_slack_actor(uow: UnitOfWork, slack_user_id: str, *, name: str | None, leads: frozenset[str]) -> Actor | None:
    """The Actor for a known Slack user whose record needs no update, else None (resolve it instead)."""
    person = repo.person_by_slack_id(uow.session, slack_user_id)
    if person is None or person.is_lead != (slack_user_id in leads):
        return None
    if name and person.name == person.slack_user_id:
        return None
    return Actor(person.id, person.name, person.slack_user_id, person.is_reviewer, person.is_lead, person.tz)


def console_key(name: str) -> str:
    """The console id of a typed name or mention: `Rita Ng`, `@rita.ng` and `rita ng` are all `rita.ng`."""
    return re.sub(r"[^\w.-]+", ".", name.strip().lstrip("@").lower()).strip(".")[:64]


def console_name(name: str) -> str:
    """A display name for a console person: as typed, or capitalised when typed in lower case (`@rita` is Rita)."""
    typed = " ".join(name.strip().lstrip("@").split())
    if typed != typed.lower():
        return typed[:120]
    return " ".join(part.capitalize() for part in re.split(r"[\s._-]+", typed) if part)[:120]


def _console_actor(person: Person) -> Actor:
    return Actor(person.id, person.name, person.slack_user_id, person.is_reviewer, person.is_lead, person.tz)


def find_console_actor(uow: UnitOfWork, name: str) -> Actor | None:
    """The Actor for a known console name, else None (resolve it instead)."""
    person = repo.person_by_console_id(uow.session, console_key(name))
    return _console_actor(person) if person else None


def resolve_console_actor(uow: UnitOfWork, name: str, *, now: dt.datetime) -> tuple[Actor, bool]:
    """The Actor for a console name, creating their person on first use; True when newly created.

    Console leads are the people flagged is_lead in the database, plus the first console user of an
    empty hub (nobody has used it yet), so a fresh `hubspoke console` can set the hub up.
    """
    key = console_key(name)
    if not key:
        raise HubError("Give a name, e.g. /as rita")
    s = uow.session
    person = repo.person_by_console_id(s, key)
    if person is not None:
        return _console_actor(person), False
    first = not repo.has_people(s)
    person = Person(console_user_id=key, name=console_name(name), is_lead=first, created_at=now)
    s.add(person)
    try:
        s.flush()
        if first:
            why = "first console user of an empty hub"
            repo.audit(s, action="lead_added", actor_id=person.id, after={"person": person.id, "why": why}, at=now)
        uow.commit()
    except IntegrityError:  # the same name's first two requests raced; the other one won
        s.rollback()
        person = repo.person_by_console_id(s, key)
        assert person is not None
        return _console_actor(person), False
    return _console_actor(person), True


def person_id_for_console(uow: UnitOfWork, name: str) -> int | None:
    """The person id behind a console name or mention, if they are known."""
    person = repo.person_by_console_id(uow.session, console_key(name))
    return person.id if person else None


def _lookup(uow: UnitOfWork, user_id: str, platform: str) -> Person | None:
    if platform == CONSOLE:
        return repo.person_by_console_id(uow.session, console_key(user_id))
    return repo.person_by_slack_id(uow.session, user_id)


def _read_profile_later(session: Session, person: Person, now: dt.datetime) -> None:
    """Queue reading a new person's profile (real name, time zone) from their platform, as durable work."""
    repo.enqueue(session, {}, operation="profile", person_id=person.id, at=now)


def apply_profile(uow: UnitOfWork, person_id: int, name: str | None, tz: str | None) -> None:
    """Store the display name and time zone a platform reports for a person."""
    person = uow.session.get(Person, person_id)
    if person is None:
        return
    _set_profile(person, name, tz)
    uow.commit()


def update_profile(uow: UnitOfWork, slack_user_id: str, *, name: str | None, tz: str | None) -> None:
    """Store the display name and time zone Slack reports for a person."""
    person = repo.person_by_slack_id(uow.session, slack_user_id)
    if person is None:
        return
    _set_profile(person, name, tz)
    uow.commit()


def _set_profile(person: Person, name: str | None, tz: str | None) -> None:
    if name:
        person.name = name
    if tz:
        try:
            ZoneInfo(tz)
            person.tz = tz
        except (ZoneInfoNotFoundError, ValueError):
            pass


def _person_for(
    uow: UnitOfWork, slack_user_id: str, name: str | None, now: dt.datetime, platform: str = SLACK
) -> Person:
    person = _lookup(uow, slack_user_id, platform)
    if person is None:
        if platform == CONSOLE:
            person = Person(console_user_id=console_key(slack_user_id), name=name or console_name(slack_user_id))
        else:
            person = Person(slack_user_id=slack_user_id, name=name or slack_user_id)
        person.created_at = now
        uow.session.add(person)
        uow.session.flush()
        if platform == SLACK:
            _read_profile_later(uow.session, person, now)
    return person


def normalise_skill(skill: str) -> str:
    """Skills are stored lower-case with single spaces."""
    return " ".join(skill.split()).lower()[:80]


def add_reviewer(
    uow: UnitOfWork,
    actor: Actor,
    slack_user_id: str,
    *,
    skills: list[str],
    name: str | None = None,
    platform: str = SLACK,
    now: dt.datetime,
) -> PersonView:
    """Make a person a hub reviewer, adding any skills given (`platform` says whose id `slack_user_id` is)."""
    _require_lead(actor)
    if platform == CONSOLE and not console_key(slack_user_id):
        raise HubError("Name the person: /hub reviewer add @rita forecasting, nlp")
    person = _person_for(uow, slack_user_id, name, now, platform)
    before = {"is_reviewer": person.is_reviewer, "skills": person.skill_names}
    person.is_reviewer = True
    have = set(person.skill_names)
    for skill in dict.fromkeys(normalise_skill(s) for s in skills if s.strip()):
        if skill not in have:
            person.skills.append(PersonSkill(skill=skill))
    uow.session.flush()
    evidence.sync_skills(uow.session, person, now)
    repo.audit(
        uow.session,
        action="reviewer_added",
        actor_id=_actor_id(actor),
        before=before,
        after={"person": person.id, "is_reviewer": True, "skills": person.skill_names},
        at=now,
    )
    view = PersonView.of(person)
    uow.commit()
    return view


def remove_reviewer(
    uow: UnitOfWork, actor: Actor, slack_user_id: str, *, platform: str = SLACK, now: dt.datetime
) -> tuple[PersonView, int]:
    """Take a person off the reviewer rota; returns them and how many open reviews they still hold."""
    _require_lead(actor)
    person = _lookup(uow, slack_user_id, platform)
    if person is None or not person.is_reviewer:
        raise NotFound("That person is not a hub reviewer.")
    person.is_reviewer = False
    open_reviews = repo.open_review_counts(uow.session).get(person.id, 0)
    repo.audit(
        uow.session,
        action="reviewer_removed",
        actor_id=_actor_id(actor),
        before={"person": person.id, "is_reviewer": True},
        after={"is_reviewer": False},
        at=now,
    )
    view = PersonView.of(person)
    uow.commit()
    return view, open_reviews


def add_department(uow: UnitOfWork, actor: Actor, name: str, *, now: dt.datetime) -> str:
    """Create a department spokes can submit from."""
    _require_lead(actor)
    clean = " ".join(name.split())
    if not clean:
        raise HubError("Give the department a name: /hub department add Finance")
    if len(clean) > 80:
        raise HubError("Department names are at most 80 characters.")
    if existing := repo.find_department(uow.session, clean):
        raise HubError(f"{existing.name} already exists.")
    uow.session.add(Department(name=clean, key=repo.department_key(clean), created_at=now))
    repo.audit(uow.session, action="department_added", actor_id=_actor_id(actor), after={"name": clean}, at=now)
    uow.commit()
    return clean


def set_away(
    uow: UnitOfWork, actor: Actor, slack_user_id: str, away: bool, *, platform: str = SLACK, now: dt.datetime
) -> PersonView:
    """Mark a person away (routing skips them) or back; leads may do it for anyone, people for themselves."""
    person = _lookup(uow, slack_user_id, platform)
    if not actor.is_lead and (person is None or person.id != actor.person_id):
        raise NotAllowed("You can set yourself away; only hub leads can set others.")
    if person is None:
        raise NotFound("That person has not used Hubspoke yet; add them as a reviewer first.")
    repo.audit(
        uow.session,
        action="away",
        actor_id=_actor_id(actor),
        before={"person": person.id, "away": person.away},
        after={"away": away},
        at=now,
    )
    person.away = away
    view = PersonView.of(person)
    uow.commit()
    return view


def list_reviewers(uow: UnitOfWork) -> list[PersonView]:
    """Reviewers with their skills and open reviews."""
    counts = repo.open_review_counts(uow.session)
    return [PersonView.of(p, counts.get(p.id, 0)) for p in repo.reviewers(uow.session)]


def person_id_for_slack(uow: UnitOfWork, slack_user_id: str) -> int | None:
    """The person id behind a Slack user id, if they are known."""
    person = repo.person_by_slack_id(uow.session, slack_user_id)
    return person.id if person else None


def list_departments(uow: UnitOfWork) -> list[str]:
    return [d.name for d in repo.departments(uow.session)]


def set_guideline(uow: UnitOfWork, actor: Actor, key: str, value: str, *, now: dt.datetime) -> Guidelines:
    """Change one self-serve guideline; `value` is what a lead typed (on/off, or a list of sensitivities)."""
    _require_lead(actor)
    current = load_guidelines(uow.session)
    fields = Guidelines.model_fields
    if key not in fields:
        raise HubError(f"Unknown guideline '{key}'. Guidelines: {', '.join(fields)}.")
    raw: object
    if key == "self_serve_sensitivity":
        raw = [v.strip().lower() for v in value.replace(",", " ").split() if v.strip()]
    else:
        lowered = value.strip().lower()
        if lowered not in {"on", "off", "true", "false", "yes", "no"}:
            raise HubError(f"{key} takes on or off.")
        raw = lowered in {"on", "true", "yes"}
    try:
        updated = Guidelines.model_validate({**current.model_dump(), key: raw})
    except ValidationError:
        choices = ", ".join(s.value for s in Sensitivity)
        raise HubError(f"{key} takes a list of: {choices}.") from None
    repo.put_setting(uow.session, GUIDELINES_KEY, updated.model_dump(mode="json"), now)
    repo.audit(
        uow.session,
        action="guidelines",
        actor_id=_actor_id(actor),
        before=current.model_dump(mode="json"),
        after=updated.model_dump(mode="json"),
        at=now,
    )
    uow.commit()
    return updated


def get_guidelines(uow: UnitOfWork) -> Guidelines:
    return load_guidelines(uow.session)


def claim_event(uow: UnitOfWork, event_id: str, *, now: dt.datetime) -> bool:
    """True the first time an event id is seen; Slack's retries of it return False."""
    fresh = repo.claim_event(uow.session, event_id, now)
    uow.commit()
    return fresh
