"""Declared skills (`/hub skills add|remove|list`): for yourself, or, for hub leads, for anyone.

Declared skills are evidence too (kind "declared_skill"), kept in step in the same transaction.
"""

from __future__ import annotations

import datetime as dt

from bot.expertise.models import SkillsView
from intake.errors import HubError, NotAllowed, NotFound
from intake.hub import normalise_skill
from intake.people import PersonRef, find, person_for
from intake.read_models import Actor
from storage import evidence, repo
from storage.db import UnitOfWork
from storage.models import Person, PersonSkill


def parse_skills(text: str) -> list[str]:
    """Skills from what a person typed: comma-separated (`nlp, time series`), normalised, no repeats."""
    return list(dict.fromkeys(s for s in (normalise_skill(p) for p in text.split(",")) if s))


def _target(uow: UnitOfWork, actor: Actor, target: PersonRef | None, *, create: bool, now: dt.datetime) -> Person:
    person = find(uow.session, target) if target is not None else None
    if target is None or (person is not None and person.id == actor.person_id):
        person = uow.session.get(Person, actor.person_id) if actor.person_id else None
        if person is None:
            raise NotFound("Name the person whose skills these are.")
        return person
    if not actor.is_lead:
        raise NotAllowed("You can change your own skills; only hub leads can change someone else's.")
    if person is None:
        if not create:
            raise NotFound("That person has not used Hubspoke yet.")
        person = person_for(uow, target, now)
    return person


def _view(person: Person, added: list[str] | None = None, removed: list[str] | None = None) -> SkillsView:
    return SkillsView(
        person_id=person.id,
        name=person.name,
        handles=person.handles,
        skills=sorted(person.skill_names),
        added=added or [],
        removed=removed or [],
    )


def add_skills(
    uow: UnitOfWork, actor: Actor, skills: list[str], *, target: PersonRef | None = None, now: dt.datetime
) -> SkillsView:
    """Declare skills for yourself, or (hub leads) for `target`."""
    wanted = [s for s in dict.fromkeys(normalise_skill(s) for s in skills) if s]
    if not wanted:
        raise HubError("Name at least one skill, e.g. `/hub skills add forecasting, nlp`.")
    person = _target(uow, actor, target, create=True, now=now)
    added = [s for s in wanted if s not in set(person.skill_names)]
    for skill in added:
        person.skills.append(PersonSkill(skill=skill))
    uow.session.flush()
    evidence.sync_skills(uow.session, person, now)
    repo.audit(
        uow.session,
        action="skills_added",
        actor_id=actor.person_id or None,
        after={"person": person.id, "skills": added},
        at=now,
    )
    view = _view(person, added=added)
    uow.commit()
    return view


def remove_skills(
    uow: UnitOfWork, actor: Actor, skills: list[str], *, target: PersonRef | None = None, now: dt.datetime
) -> SkillsView:
    """Take declared skills off yourself, or (hub leads) off `target`."""
    unwanted = {normalise_skill(s) for s in skills if s.strip()}
    if not unwanted:
        raise HubError("Name the skills to remove, e.g. `/hub skills remove forecasting`.")
    person = _target(uow, actor, target, create=False, now=now)
    removed = [s.skill for s in person.skills if s.skill in unwanted]
    if not removed:
        raise NotFound(f"{person.name} has none of those skills. Skills: {', '.join(person.skill_names) or 'none'}.")
    person.skills = [s for s in person.skills if s.skill not in unwanted]
    uow.session.flush()
    evidence.sync_skills(uow.session, person, now)
    repo.audit(
        uow.session,
        action="skills_removed",
        actor_id=actor.person_id or None,
        after={"person": person.id, "skills": removed},
        at=now,
    )
    view = _view(person, removed=removed)
    uow.commit()
    return view


def list_skills(uow: UnitOfWork, actor: Actor, *, target: PersonRef | None = None) -> SkillsView:
    """A person's declared skills (yours by default); anyone may look."""
    if target is None:
        person = uow.session.get(Person, actor.person_id) if actor.person_id else None
    else:
        person = find(uow.session, target)
    if person is None:
        raise NotFound("That person has not used Hubspoke yet.")
    return _view(person)
