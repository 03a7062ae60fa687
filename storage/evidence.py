"""Writing expertise evidence, in the caller's transaction, keyed so re-deriving updates instead of duplicating.

Services call these one line per event: a use case submitted (its submitter), decided (the reviewer),
moved past experimentation (its owner built it), skills declared. How much each kind counts is the
ranking's business (bot.expertise.ranking); a row here only says what happened, when, and to whom.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from enum import StrEnum

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from storage.models import Evidence, Person, Review, UseCase


class Kind(StrEnum):
    """What a piece of evidence records."""

    DECLARED_SKILL = "declared_skill"
    SUBMITTED = "submitted"
    REVIEWED = "reviewed"
    BUILT = "built"
    SHOWCASE = "showcase"
    RETRO = "retro"
    IMPORTED = "imported"


# Stages past experimentation: reaching one means the owner built the thing, not just proposed it.
BUILT_STAGES = frozenset({"production_engineering", "deployment", "monitoring"})


def record(
    session: Session,
    *,
    person_id: int,
    kind: str,
    text: str,
    source_key: str,
    at: dt.datetime,
    tags: Iterable[str] = (),
    weight: float = 1.0,
    use_case_id: int | None = None,
    url: str | None = None,
) -> Evidence:
    """Stage one evidence row, or update the row already recorded under `source_key`."""
    row = session.scalar(select(Evidence).where(Evidence.source_key == source_key))
    if row is None:
        row = Evidence(source_key=source_key)
        session.add(row)
    row.person_id = person_id
    row.kind = kind
    row.text = text
    row.tags = list(dict.fromkeys(t for t in tags if t))
    row.weight = weight
    row.at = at
    row.use_case_id = use_case_id
    row.url = url
    return row


def use_case_text(uc: UseCase) -> str:
    """The words of a use case that say what it is about."""
    parts = [uc.title, uc.problem, uc.benefit, uc.success_metric, uc.data_sources, uc.topic_area or ""]
    return "\n".join(p for p in parts if p)


def for_use_case(session: Session, uc: UseCase, kind: Kind, person_id: int, at: dt.datetime) -> Evidence | None:
    """Evidence that `person_id` submitted, reviewed or built `uc` (one row per use case, kind and person)."""
    if not person_id:  # the CLI acts as the hub itself, with no person behind it
        return None
    tags = [uc.department.name if uc.department else "", uc.topic_area or ""]
    return record(
        session,
        person_id=person_id,
        kind=kind.value,
        text=use_case_text(uc),
        tags=tags,
        source_key=f"uc:{uc.id}:{kind.value}:{person_id}",
        at=at,
        use_case_id=uc.id,
    )


def on_stage(session: Session, uc: UseCase, at: dt.datetime) -> Evidence | None:
    """When `uc` has moved past experimentation, its owner built it."""
    if uc.stage not in BUILT_STAGES:
        return None
    return for_use_case(session, uc, Kind.BUILT, uc.submitter_id, at)


def sync_skills(session: Session, person: Person, at: dt.datetime) -> None:
    """Make declared-skill evidence match the person's skills: new skills added, removed ones dropped."""
    prefix = f"skill:{person.id}:"
    wanted = {prefix + s: s for s in person.skill_names}
    have = set(
        session.scalars(
            select(Evidence.source_key).where(
                Evidence.person_id == person.id, Evidence.kind == Kind.DECLARED_SKILL.value
            )
        )
    )
    stale = [k for k in have if k not in wanted]
    if stale:
        session.execute(delete(Evidence).where(Evidence.source_key.in_(stale)))
    for key, skill in wanted.items():
        if key not in have:
            kind = Kind.DECLARED_SKILL
            record(session, person_id=person.id, kind=kind, text=skill, tags=[skill], source_key=key, at=at)


def rederive(session: Session, at: dt.datetime) -> int:
    """Derive evidence from what is already stored (use cases, decisions, stages, skills); returns rows touched."""
    touched = 0
    for uc in session.scalars(select(UseCase)):
        if not _reachable(uc.submitter):
            continue  # e.g. the "register import" stand-in for an imported register: nobody to ask
        for_use_case(session, uc, Kind.SUBMITTED, uc.submitter_id, uc.created_at)
        touched += 1
        if on_stage(session, uc, uc.updated_at):
            touched += 1
    decided = select(Review).where(Review.decided_by_id.is_not(None), Review.decided_at.is_not(None))
    for review in session.scalars(decided):
        reviewed = session.get(UseCase, review.use_case_id)
        if reviewed is not None and review.decided_by_id is not None and review.decided_at is not None:
            for_use_case(session, reviewed, Kind.REVIEWED, review.decided_by_id, review.decided_at)
            touched += 1
    for person in session.scalars(select(Person).where(Person.skills.any())):
        sync_skills(session, person, at)
        touched += len(person.skills)
    session.flush()
    return touched


def _reachable(person: Person) -> bool:
    """A person someone could ask: known on at least one platform."""
    return bool(person.identities)
