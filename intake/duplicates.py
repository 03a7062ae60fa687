"""Likely duplicates across departments, at intake: who to talk to, what the submitter said, and when the hub hears.

When a use case is submitted or edited, the use cases of *other* departments most like it (intake.similar,
at its likely-duplicate threshold) are recorded as `likely` links and shown in the submitter's receipt (with
the owner to talk to and their stage) and on the reviewer's card. The submitter answers each one:

- **same**: it is the same thing; the other use case's owner is told who to talk to;
- **related**: worth knowing about, not the same;
- **different**, with why: recorded, and the reviewer reads the reason on the card.

When one problem is worked on in three or more departments (a submission and likely duplicates in at least
two others), the hub channel is told once for that cluster: a signal for a shared platform.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session, aliased

from intake.errors import FieldErrors, InvalidMove, NotAllowed, NotFound
from intake.notices import DuplicateFlagged, SharedProblem
from intake.read_models import Actor, Duplicate, PersonView, Relation, UseCaseView, jsonable
from intake.schema import Stage, Status
from intake.similar import Similarity, default_similarity
from intake.text import clean_text
from storage import repo
from storage.db import UnitOfWork
from storage.models import Department, Person, UseCase, UseCaseLink

SHOWN = 3  # likely duplicates shown on a receipt and a card
SHARED_PROBLEM = 3  # departments on one problem before the hub is told
MAX_REASON = 1000


def check_duplicates(
    session: Session, uc: UseCase, now: dt.datetime, similarity: Similarity | None = None
) -> list[Duplicate]:
    """Record the likely duplicates of `uc` in other departments (replacing unanswered ones); return them."""
    found = (similarity or default_similarity()).similar(
        session,
        uc.problem or "",
        title=uc.title,
        exclude_id=uc.id,
        other_departments_than=uc.department.name if uc.department else None,
        top=SHOWN,
    )
    likely = {m.id: m for m in found if m.likely_duplicate}
    answered = {
        link.other_id
        for link in session.scalars(select(UseCaseLink).where(UseCaseLink.use_case_id == uc.id))
        if link.relation != Relation.LIKELY.value
    }
    session.execute(
        delete(UseCaseLink).where(UseCaseLink.use_case_id == uc.id, UseCaseLink.relation == Relation.LIKELY.value)
    )
    for other_id, match in likely.items():
        if other_id not in answered:
            session.add(UseCaseLink(use_case_id=uc.id, other_id=other_id, score=match.score, created_at=now))
    session.flush()
    return duplicates_of(session, uc.id)


def duplicates_of(session: Session, use_case_id: int) -> list[Duplicate]:
    """The use cases linked to this one, best match first, with their owners and the submitter's answers."""
    other, owner = aliased(UseCase), aliased(Person)
    rows = session.execute(
        select(UseCaseLink, other, Department.name, owner)
        .join(other, UseCaseLink.other_id == other.id)
        .join(Department, other.department_id == Department.id)
        .join(owner, other.submitter_id == owner.id)
        .where(UseCaseLink.use_case_id == use_case_id)
        .order_by(UseCaseLink.score.desc(), UseCaseLink.other_id)
    ).all()
    return [
        Duplicate(
            id=uc.id,
            title=uc.title,
            department=department,
            stage=Stage(uc.stage),
            status=Status(uc.status),
            owner=PersonView.of(person, with_skills=False) if not _stand_in(person) else None,
            score=round(link.score, 3),
            relation=Relation(link.relation),
            reason=link.reason,
        )
        for link, uc, department, person in rows
    ]


def load_use_case(session: Session, use_case_id: int) -> UseCase:
    uc = session.get(UseCase, use_case_id)
    if uc is None:
        raise NotFound(f"There is no use case #{use_case_id}.")
    return uc


def _stand_in(person: Person) -> bool:
    from storage.evidence import is_importer

    return is_importer(person)


def answer_duplicate(
    uow: UnitOfWork,
    actor: Actor,
    use_case_id: int,
    other_id: int,
    relation: Relation,
    reason: str | None = None,
    *,
    now: dt.datetime,
) -> Duplicate:
    """The submitter (or a lead) says what a likely duplicate is; `same` tells the other use case's owner."""
    s = uow.session
    uc = load_use_case(s, use_case_id)
    if uc.submitter_id != actor.person_id and not actor.is_lead:
        raise NotAllowed(f"Only {uc.submitter.name}, who submitted #{uc.id}, or a hub lead can say this.")
    if relation is Relation.LIKELY:
        raise InvalidMove("Say same, related or different.")
    link = s.scalar(select(UseCaseLink).where(UseCaseLink.use_case_id == uc.id, UseCaseLink.other_id == other_id))
    if link is None:
        raise InvalidMove(f"#{other_id} is not among #{uc.id}'s likely duplicates.")
    why = clean_text(reason or "").strip() or None
    if relation is Relation.DIFFERENT and not why:
        raise FieldErrors({"reason": "Say what makes it different: the reviewer reads it."})
    if why and len(why) > MAX_REASON:
        raise FieldErrors({"reason": f"Please keep this under {MAX_REASON} characters."})
    before = {"other": other_id, "relation": link.relation}
    link.relation, link.reason, link.answered_by_id, link.answered_at = relation.value, why, actor.person_id, now
    s.flush()
    after = {"other": other_id, "relation": relation.value, "reason": why}
    repo.audit(
        s, action="duplicate_answered", actor_id=actor.person_id, use_case_id=uc.id, before=before, after=after, at=now
    )
    shown = next(d for d in duplicates_of(s, uc.id) if d.id == other_id)
    other = s.get(UseCase, other_id)
    if relation is Relation.SAME and other is not None and other.submitter_id != actor.person_id:
        notice = DuplicateFlagged(use_case=UseCaseView.of(uc), other=shown, by=PersonView.of(uc.submitter))
        if not _stand_in(other.submitter):
            repo.enqueue(s, jsonable(notice), person_id=other.submitter_id, at=now)
    uow.commit()
    return shown


def cluster_to_tell(session: Session, uc: UseCase, now: dt.datetime) -> SharedProblem | None:
    """The cluster `uc` completes, when three or more departments work on one problem and the hub has not been
    told of any of its use cases yet (then they are marked told)."""
    links = list(
        session.scalars(
            select(UseCaseLink).where(
                or_(UseCaseLink.use_case_id == uc.id, UseCaseLink.other_id == uc.id),
                UseCaseLink.relation.in_([Relation.LIKELY.value, Relation.SAME.value]),
            )
        )
    )
    if any(link.told_hub_at for link in links):
        return None
    ids = {uc.id} | {link.other_id for link in links} | {link.use_case_id for link in links}
    members = duplicates_of(session, uc.id)
    own_department = uc.department.name if uc.department else ""
    departments = sorted({own_department, *(d.department for d in members)})
    if len(departments) < SHARED_PROBLEM:
        return None
    told = session.scalar(
        select(UseCaseLink.id).where(
            or_(UseCaseLink.use_case_id.in_(ids), UseCaseLink.other_id.in_(ids)), UseCaseLink.told_hub_at.is_not(None)
        )
    )
    if told is not None:
        return None
    session.execute(update(UseCaseLink).where(UseCaseLink.id.in_([link.id for link in links])).values(told_hub_at=now))
    first = Duplicate(
        id=uc.id,
        title=uc.title,
        department=own_department,
        stage=Stage(uc.stage),
        status=Status(uc.status),
        owner=PersonView.of(uc.submitter, with_skills=False),
        score=1.0,
    )
    return SharedProblem(departments=departments, use_cases=[first, *members])


def scan_all(
    uow: UnitOfWork, *, now: dt.datetime, batch: int = 200, similarity: Similarity | None = None
) -> tuple[int, int, int]:
    """Compare every use case (an imported register's included) with the other departments' and record its likely
    duplicates, a batch per transaction; nobody is notified (no flood after an import). Returns (use cases
    checked, with a likely duplicate, clusters of three or more departments)."""
    s = uow.session
    similarity = similarity or default_similarity()
    ids = list(s.scalars(select(UseCase.id).order_by(UseCase.id)))
    linked = 0
    for start in range(0, len(ids), batch):
        for use_case_id in ids[start : start + batch]:
            uc = s.get(UseCase, use_case_id)
            if uc is not None and check_duplicates(s, uc, now, similarity):
                linked += 1
        uow.commit()
    other = aliased(UseCase)
    departments: dict[int, set[int]] = {}
    for use_case_id, own, theirs in s.execute(
        select(UseCaseLink.use_case_id, UseCase.department_id, other.department_id)
        .join(UseCase, UseCaseLink.use_case_id == UseCase.id)
        .join(other, UseCaseLink.other_id == other.id)
        .where(UseCaseLink.relation.in_([Relation.LIKELY.value, Relation.SAME.value]))
    ):
        departments.setdefault(use_case_id, {own}).add(theirs)
    clusters = sum(1 for depts in departments.values() if len(depts) >= SHARED_PROBLEM)
    return len(ids), linked, clusters
