"""Hub administration: who reviews (and their skills), departments, who is away."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from intake.errors import HubError, NotAllowed, NotFound
from intake.people import PersonRef, find, person_for
from intake.read_models import Actor, PersonView
from storage import evidence, repo
from storage.db import UnitOfWork
from storage.models import Department, Person, PersonSkill

NOT_A_REVIEWER = "That person is not a hub reviewer (a lead adds them with /hub reviewer add)."


def _require_lead(actor: Actor) -> None:
    if not actor.is_lead:
        raise NotAllowed("Only hub leads can change the hub's set-up. Ask a lead (see /hub help).")


def _actor_id(actor: Actor) -> int | None:
    return actor.person_id or None


def normalise_skill(skill: str) -> str:
    """Skills are stored lower-case with single spaces."""
    return " ".join(skill.split()).lower()[:80]


def add_reviewer(
    uow: UnitOfWork, actor: Actor, target: PersonRef, *, skills: list[str], now: dt.datetime
) -> PersonView:
    """Make a person a hub reviewer, adding any skills given."""
    _require_lead(actor)
    if not target.external_id:
        raise HubError("Name the person: /hub reviewer add @rita forecasting, nlp")
    person = person_for(uow, target, now)
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


def remove_reviewer(uow: UnitOfWork, actor: Actor, target: PersonRef, *, now: dt.datetime) -> tuple[PersonView, int]:
    """Take a person off the reviewer rota; returns them and how many open reviews they still hold."""
    _require_lead(actor)
    person = find(uow.session, target)
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


def set_away(uow: UnitOfWork, actor: Actor, target: PersonRef | None, away: bool, *, now: dt.datetime) -> PersonView:
    """Mark a person away (routing skips them) or back; leads may do it for anyone, people for themselves.

    `target` None is the actor themselves.
    """
    person = uow.session.get(Person, actor.person_id) if target is None else find(uow.session, target)
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


def list_departments(uow: UnitOfWork) -> list[str]:
    return [d.name for d in repo.departments(uow.session)]


def set_department_channel(uow: UnitOfWork, actor: Actor, name: str, channel: str, *, now: dt.datetime) -> str:
    """Where a department's own digest goes (a channel of its spokes); an empty channel stops it."""
    _require_lead(actor)
    found = repo.find_department(uow.session, name)
    if found is None:
        known = ", ".join(list_departments(uow)) or "none yet"
        raise HubError(f"There is no department called {name[:80]}. Departments: {known[:500]}.")
    before = {"channel": found.channel}
    found.channel = channel or None
    repo.audit(
        uow.session,
        action="department_channel",
        actor_id=_actor_id(actor),
        before=before,
        after={"name": found.name, "channel": found.channel},
        at=now,
    )
    uow.commit()
    return found.name


def department_channels(uow: UnitOfWork) -> list[tuple[str, str]]:
    """(department, channel) of every department whose digest goes to a channel of its own."""
    return [(d.name, d.channel) for d in repo.departments(uow.session) if d.channel]


LAST_LEAD = "They are the hub's only lead: add another lead first, so someone can still set the hub up."


def add_lead(uow: UnitOfWork, actor: Actor, target: PersonRef, *, now: dt.datetime) -> PersonView:
    """Make a person a hub lead (leads only): they may then set the hub up, decide and reassign."""
    _require_lead(actor)
    person = person_for(uow, target, now)
    if not person.is_lead:
        person.is_lead = True
        repo.audit(uow.session, action="lead_added", actor_id=_actor_id(actor), after={"person": person.id}, at=now)
    view = PersonView.of(person)
    uow.commit()
    return view


def remove_lead(
    uow: UnitOfWork, actor: Actor, target: PersonRef, *, configured: frozenset[str] = frozenset(), now: dt.datetime
) -> PersonView:
    """Take a person's lead role away (leads only); never the last lead's.

    `configured` are the ids in HUB_LEADS on the target's platform: a person still listed there is a
    lead again on their next request, so removing them is refused with where to remove them.
    """
    _require_lead(actor)
    person = find(uow.session, target)
    if person is None or not person.is_lead:
        raise NotFound("That person is not a hub lead.")
    if target.external_id in configured:
        raise HubError("They are listed in HUB_LEADS: take them out of it (and restart), or they lead again.")
    others = uow.session.scalar(
        select(func.count()).select_from(Person).where(Person.is_lead.is_(True), Person.id != person.id)
    )
    if not others:
        raise HubError(LAST_LEAD)
    person.is_lead = False
    repo.audit(uow.session, action="lead_removed", actor_id=_actor_id(actor), before={"person": person.id}, at=now)
    view = PersonView.of(person)
    uow.commit()
    return view


def list_leads(uow: UnitOfWork) -> list[PersonView]:
    """The hub's leads."""
    found = uow.session.scalars(select(Person).where(Person.is_lead.is_(True)).order_by(Person.name))
    return [PersonView.of(p, with_skills=False) for p in found]
