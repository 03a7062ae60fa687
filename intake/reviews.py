"""A review round's plumbing: load a use case, route it, open a round, post and update its card, check deciders."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from intake.duplicates import duplicates_of
from intake.errors import NotAllowed, NotFound
from intake.notices import HUB, ReviewCard, card_key
from intake.read_models import Actor, Change, UseCaseView, jsonable
from intake.routing import Candidate, pick_reviewer
from intake.schema import Submission
from storage import repo
from storage.models import Person, Review, UseCase


def require_decider(session: Session, actor: Actor, refusal: str) -> None:
    """Refuse unless the actor is a reviewer or lead as stored now, read in the deciding transaction.

    The Actor an adapter passes may be seconds old (a cache, or another replica's view); a reviewer
    removed since must not decide. The CLI's SYSTEM actor (no person) is the hub itself.
    """
    if actor.person_id == 0 and actor.is_lead:
        return
    person = session.get(Person, actor.person_id, populate_existing=True)
    if person is None or not (person.is_reviewer or person.is_lead):
        raise NotAllowed(refusal)


def load_use_case(session: Session, use_case_id: int) -> UseCase:
    uc = session.get(UseCase, use_case_id)
    if uc is None:
        raise NotFound(f"There is no use case #{use_case_id}.")
    return uc


def routing_text(sub: Submission) -> str:
    return " ".join([sub.title, sub.problem, sub.benefit, sub.data_sources, sub.department])


def route(session: Session, sub: Submission, exclude: int | None) -> tuple[Person | None, list[str]]:
    counts = repo.open_review_counts(session)
    pool = [p for p in repo.reviewers(session) if not p.away and p.id != exclude]
    candidates = [Candidate(p.id, tuple(p.skill_names), counts.get(p.id, 0), p.last_assigned_at) for p in pool]
    picked = pick_reviewer(candidates, routing_text(sub))
    if picked is None:
        return None, []
    best, matched = picked
    return next(p for p in pool if p.id == best.person_id), matched


def open_round(
    session: Session,
    uc: UseCase,
    round_: int,
    reviewer: Person | None,
    snapshot: dict[str, object],
    changes: list[Change],
    now: dt.datetime,
) -> Review:
    review = Review(
        use_case_id=uc.id,
        round=round_,
        reviewer_id=reviewer.id if reviewer else None,
        reviewer=reviewer,
        assigned_at=now if reviewer else None,
        opened_at=now,
        submission=snapshot,
        changes=[c.model_dump() for c in changes],
    )
    session.add(review)
    uc.reviewer_id = reviewer.id if reviewer else None
    uc.reviewer = reviewer
    if reviewer:
        reviewer.last_assigned_at = now
    session.flush()
    return review


def post_card(
    session: Session, view: UseCaseView, matched: list[str], now: dt.datetime, note: str | None = None
) -> None:
    assert view.review is not None
    card = ReviewCard(use_case=view, matched_skills=matched, note=note, duplicates=duplicates_of(session, view.id))
    payload = jsonable(card)
    key = card_key(view.id, view.review.round)
    repo.enqueue(session, payload, channel=HUB, ref_key=key, at=now)
    if view.reviewer:
        repo.enqueue(session, payload, person_id=view.reviewer.id, ref_key=key, at=now)


def update_card(session: Session, view: UseCaseView, now: dt.datetime, note: str | None = None) -> None:
    assert view.review is not None
    payload = jsonable(ReviewCard(use_case=view, note=note, duplicates=duplicates_of(session, view.id)))
    repo.enqueue(session, payload, operation="update", ref_key=card_key(view.id, view.review.round), at=now)
