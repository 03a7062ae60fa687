"""Writing expertise evidence, in the caller's transaction, keyed so re-deriving updates instead of duplicating.

Services call these one line per event: a use case submitted (its submitter), decided (the reviewer),
moved past experimentation (its owner built it), skills declared, a register imported (each use case's
owner owns it). How much each kind counts is the ranking's business (bot.expertise.ranking); a row here
only says what happened, when, and to whom.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from enum import StrEnum

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, selectinload

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
    OWNED = "owned"  # the owner of a use case imported from a register (counted as built once it is)


# Stages past experimentation: reaching one means the owner built the thing, not just proposed it.
BUILT_STAGES = frozenset({"production_engineering", "deployment", "monitoring"})
# The stand-in person a register import submits use cases by when it names no owner: nobody to ask.
# intake.register.service.IMPORTER_NAME is the same name; importing it here would be circular
# (intake.register.service imports storage.repo, which imports this module).
IMPORTER_NAME = "register import"
_CHUNK = 500  # use cases loaded per statement
_OWNERS_KINDS = (Kind.SUBMITTED, Kind.BUILT)  # what an imported use case's owner gets as `owned` instead


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
    """Evidence that `person_id` submitted, reviewed or built `uc` (one row per use case, kind and person).

    An imported use case's submitter is its owner: submitting it (an edit in the hub) is owning it.
    """
    if not person_id:  # the CLI acts as the hub itself, with no person behind it
        return None
    if uc.source_id is not None and person_id == uc.submitter_id and kind in _OWNERS_KINDS:
        # One `owned` row instead (ranked as built once the use case is); none for the import's stand-in.
        return _own(session, uc, at) if kind is Kind.SUBMITTED and not is_importer(uc.submitter) else None
    return record(
        session,
        person_id=person_id,
        kind=kind.value,
        text=use_case_text(uc),
        tags=_tags(uc),
        source_key=f"uc:{uc.id}:{kind.value}:{person_id}",
        at=at,
        use_case_id=uc.id,
    )


def _tags(uc: UseCase) -> list[str]:
    return [uc.department.name if uc.department else "", uc.topic_area or ""]


def on_stage(session: Session, uc: UseCase, at: dt.datetime) -> Evidence | None:
    """When `uc` has moved past experimentation, its owner built it."""
    if uc.stage not in BUILT_STAGES:
        return None
    return for_use_case(session, uc, Kind.BUILT, uc.submitter_id, at)


def is_importer(person: Person | None) -> bool:
    """Whether `person` is the register import's stand-in (matched by name, as the importer creates it)."""
    return person is not None and person.name == IMPORTER_NAME


def _own(session: Session, uc: UseCase, at: dt.datetime) -> Evidence:
    return record(
        session,
        person_id=uc.submitter_id,
        kind=Kind.OWNED.value,
        text=use_case_text(uc),
        tags=_tags(uc),
        source_key=_owned_key(uc.id, uc.submitter_id),
        at=at,
        use_case_id=uc.id,
    )


def _owned_key(use_case_id: int, person_id: int) -> str:
    return f"uc:{use_case_id}:{Kind.OWNED.value}:{person_id}"


def for_imported(session: Session, use_case_ids: Iterable[int], at: dt.datetime) -> int:
    """Make `owned` evidence match the owners of these imported use cases; returns the rows written.

    Idempotent: a row is written when it is new or its use case's words changed (then dated `at`), and
    removed when its person no longer owns the use case; ids of use cases not imported are ignored. The
    register importer calls it after each batch, in its transaction; nothing is committed here.
    """
    return _own_all(session, sorted(set(use_case_ids)), at)[1]


def _own_all(session: Session, ids: Sequence[int], at: dt.datetime | None) -> tuple[int, int]:
    """(owners with a row, rows written) for the imported use cases among `ids`; `at` None: each use case's own time."""
    owners = written = 0
    for start in range(0, len(ids), _CHUNK):
        o, w = _own_chunk(session, ids[start : start + _CHUNK], at)
        owners, written = owners + o, written + w
    session.flush()
    return owners, written


def _own_chunk(session: Session, ids: Sequence[int], at: dt.datetime | None) -> tuple[int, int]:
    load = (
        select(UseCase)
        .options(selectinload(UseCase.submitter), selectinload(UseCase.department))
        .where(UseCase.id.in_(ids), UseCase.source_id.is_not(None))
        .execution_options(populate_existing=True)  # the importer writes with bulk statements: reload what it wrote
    )
    use_cases = list(session.scalars(load))
    if not use_cases:
        return 0, 0
    held: dict[int | None, list[Evidence]] = {}
    found = [uc.id for uc in use_cases]
    stmt = select(Evidence).where(Evidence.use_case_id.in_(found), Evidence.kind == Kind.OWNED.value)
    for e in session.scalars(stmt):
        held.setdefault(e.use_case_id, []).append(e)
    owners = written = 0
    for uc in use_cases:
        wanted = None if is_importer(uc.submitter) else _owned_key(uc.id, uc.submitter_id)
        row = None
        for e in held.get(uc.id, []):
            if e.source_key == wanted:
                row = e
            else:
                session.delete(e)  # a new owner, or none: the old owner's row goes
                written += 1
        if wanted is None:
            continue
        owners += 1
        text, tags = use_case_text(uc), list(dict.fromkeys(t for t in _tags(uc) if t))
        if row is None:
            session.add(
                Evidence(
                    source_key=wanted,
                    person_id=uc.submitter_id,
                    kind=Kind.OWNED.value,
                    text=text,
                    tags=tags,
                    weight=1.0,
                    at=at or uc.created_at,
                    use_case_id=uc.id,
                )
            )
            written += 1
        elif row.text != text or list(row.tags) != tags:
            row.text, row.tags, row.at = text, tags, at or uc.updated_at
            written += 1
    return owners, written


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
    """Derive evidence from what is already stored (use cases, decisions, stages, skills); returns rows touched.

    Imported use cases give their owners `owned` evidence (for_imported) rather than `submitted` and `built`.
    """
    touched = 0
    imported: list[int] = []
    for uc in session.scalars(select(UseCase)):
        if uc.source_id is not None:
            imported.append(uc.id)
            continue
        if not _reachable(uc.submitter):
            continue  # nobody to ask
        for_use_case(session, uc, Kind.SUBMITTED, uc.submitter_id, uc.created_at)
        touched += 1
        if on_stage(session, uc, uc.updated_at):
            touched += 1
    touched += _own_all(session, imported, None)[0]
    if imported:  # written for imported use cases before they had owners of their own: `owned` replaces them
        kinds = [k.value for k in _OWNERS_KINDS]
        for start in range(0, len(imported), _CHUNK):
            chunk = imported[start : start + _CHUNK]
            session.execute(delete(Evidence).where(Evidence.use_case_id.in_(chunk), Evidence.kind.in_(kinds)))
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
