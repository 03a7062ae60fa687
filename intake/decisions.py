"""Decisions on a review (approve, request changes, reject) and handing a review to another reviewer."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from intake import retros
from intake.errors import AlreadyDecided, FieldErrors, HeldByAnother, InvalidMove, NotAllowed
from intake.guidelines import load_guidelines
from intake.notices import Outcome, ReviewCard, card_key
from intake.read_models import Actor, PersonView, UseCaseView, jsonable
from intake.reviews import load_use_case, require_decider, update_card
from intake.schema import Decision, Status, label
from storage import evidence, repo
from storage.db import UnitOfWork
from storage.models import Person, Review, UseCase

REASON_REQUIRED = {Decision.REJECT, Decision.REQUEST_CHANGES}
# What someone without the role is told when they click a decision or hand a review on, on every surface.
REVIEWERS_ONLY = "Only hub reviewers can decide on use cases. A hub lead can add you with /hub reviewer add."
HANDING_ON_ONLY = "Only hub reviewers and leads can hand a review on."


_DECISION_STATUS = {
    Decision.APPROVE: Status.APPROVED,
    Decision.REJECT: Status.REJECTED,
    Decision.REQUEST_CHANGES: Status.CHANGES_REQUESTED,
}


def already_decided(review: Review) -> AlreadyDecided:
    """The refusal for acting on a review round that has ended: who ended it (and when, for the surfaces)."""
    who = review.decided_by.name if review.decided_by else "Someone"
    if review.decision == Decision.WITHDRAWN:
        return AlreadyDecided(
            f"{who} took this use case out of review, so there is nothing left to decide.",
            decided_at=review.decided_at,
            decided_by_id=review.decided_by_id,
        )
    verb = label(Decision(review.decision)).lower() if review.decision else "decided"
    verb = verb.replace("changes requested", "requested changes on")
    return AlreadyDecided(
        f"{who} already {verb} this one.", decided_at=review.decided_at, decided_by_id=review.decided_by_id
    )


def held_by_someone_else(holder: str) -> str:
    """What a reviewer who does not hold a review is told when they try to decide it."""
    return (
        f"{holder} holds this review, so they (or a hub lead) decide it. To decide it yourself, take it over "
        "(it is reassigned to you), then decide."
    )


def _require_holder(session: Session, actor: Actor, uc: UseCase, review: Review) -> None:
    """The assigned reviewer or a lead decides, unless the hub's guidelines let any reviewer."""
    reviewer_id = uc.reviewer_id
    if reviewer_id is None or reviewer_id == actor.person_id or actor.is_lead or actor.person_id == 0:
        return
    if load_guidelines(session).any_reviewer_decides:
        return
    holder = session.get(Person, reviewer_id)
    raise HeldByAnother(held_by_someone_else(holder.name if holder else "Another reviewer"), uc.id, review.round)


def check_holder(uow: UnitOfWork, actor: Actor, use_case_id: int) -> None:
    """Raise HeldByAnother (with its offer) before a reason is asked of a reviewer who does not hold the review."""
    s = uow.session
    require_decider(s, actor, "Only hub reviewers can decide on use cases.")
    uc = load_use_case(s, use_case_id)
    review = repo.current_review(s, uc.id)
    if review is not None and review.decision is None:
        _require_holder(s, actor, uc, review)


def decide(
    uow: UnitOfWork,
    actor: Actor,
    use_case_id: int,
    decision: Decision,
    *,
    reason: str | None = None,
    round_: int | None = None,
    now: dt.datetime,
) -> UseCaseView:
    """Record a reviewer's decision once; a second click is told who decided first."""
    s = uow.session
    if decision not in _DECISION_STATUS:
        raise InvalidMove("Withdrawing is for the use case's owner: /usecase withdraw ID.")
    require_decider(s, actor, "Only hub reviewers can decide on use cases.")
    uc = load_use_case(s, use_case_id)
    if uc.submitter_id == actor.person_id:
        raise NotAllowed("You submitted this use case, so another hub reviewer decides on it.")
    review = repo.current_review(s, uc.id)
    if review is None:
        raise InvalidMove(f"#{uc.id} went ahead self-serve; there is no review to decide.")
    if round_ is not None and round_ != review.round:
        old = s.scalar(select(Review).where(Review.use_case_id == uc.id, Review.round == round_))
        if old is not None and old.decision:
            raise already_decided(old)
        raise InvalidMove("This card is out of date: the use case was resubmitted. Use the newest card.")
    if review.decision is not None:
        raise already_decided(review)
    _require_holder(s, actor, uc, review)
    reason = (reason or "").strip() or None
    if decision in REASON_REQUIRED and not reason:
        raise FieldErrors({"reason": "Give the submitter a reason, so they know what to do next."})
    before = {"status": uc.status, "round": review.round, "decision": None}
    won = s.execute(
        update(Review)
        .where(Review.id == review.id, Review.decision.is_(None))
        .values(decision=decision.value, reason=reason, decided_by_id=actor.person_id, decided_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    if won != 1:
        # Someone else's decision committed first; under READ COMMITTED (and SQLite's
        # serialised writers) a fresh read in this transaction sees it.
        s.refresh(review)
        raise already_decided(review)
    # The conditional UPDATE above wrote these; mirror them on the loaded row instead of re-reading it.
    for key, value in (
        ("decision", decision.value),
        ("reason", reason),
        ("decided_by_id", actor.person_id),
        ("decided_at", now),
        ("decided_by", s.get(Person, actor.person_id)),
    ):
        set_committed_value(review, key, value)
    uc.status = _DECISION_STATUS[decision].value
    uc.updated_at = now
    evidence.for_use_case(s, uc, evidence.Kind.REVIEWED, actor.person_id, now)
    view = UseCaseView.of(uc, review)
    after = {"status": uc.status, "round": review.round, "decision": decision.value, "reason": reason}
    repo.audit(
        s,
        action=f"decision:{decision.value}",
        actor_id=actor.person_id,
        use_case_id=uc.id,
        before=before,
        after=after,
        at=now,
    )
    update_card(s, view, now)
    repo.enqueue(s, jsonable(Outcome(use_case=view)), person_id=uc.submitter_id, at=now)
    if decision is Decision.REJECT:
        retros.ask(s, uc, retros.Trigger.REJECTED, now=now)
    uow.commit()
    return view


def cannot_take(target: Person | None, submitter_id: int, holder_id: int | None) -> str | None:
    """Why `target` cannot take a review over (None when they can): not a reviewer, away, its submitter, or
    the one who holds it."""
    if target is None or not target.is_reviewer:
        return "Pick a hub reviewer (a lead adds them with /hub reviewer add)."
    if target.away:
        return f"{target.name} is away. Pick someone else."
    if target.id == submitter_id:
        return "Submitters cannot review their own use case."
    if target.id == holder_id:
        return f"{target.name} already has this review."
    return None


def reviewers_for(uow: UnitOfWork, use_case_id: int) -> list[PersonView]:
    """The reviewers who could take this use case's review now, the least loaded first: the ones to offer."""
    s = uow.session
    uc = load_use_case(s, use_case_id)
    review = repo.current_review(s, uc.id)
    holder = review.reviewer_id if review else None
    counts = repo.open_review_counts(s)
    able = [p for p in repo.reviewers(s) if cannot_take(p, uc.submitter_id, holder) is None]
    able.sort(key=lambda p: (counts.get(p.id, 0), p.name.casefold()))
    return [PersonView.of(p, counts.get(p.id, 0)) for p in able]


def check_pick(uow: UnitOfWork, use_case_id: int, reviewer_person_id: int) -> None:
    """Raise FieldErrors with the reason when this reviewer cannot take the review (asked before a note is)."""
    s = uow.session
    uc = load_use_case(s, use_case_id)
    review = repo.current_review(s, uc.id)
    if refusal := cannot_take(
        s.get(Person, reviewer_person_id), uc.submitter_id, review.reviewer_id if review else None
    ):
        raise FieldErrors({"reviewer": refusal})


def assign_reviewer(
    uow: UnitOfWork,
    actor: Actor,
    use_case_id: int,
    reviewer_person_id: int,
    *,
    note: str | None = None,
    now: dt.datetime,
) -> UseCaseView:
    """Give an undecided review to another reviewer (reassign, or pick one when routing found none)."""
    s = uow.session
    require_decider(s, actor, "Only hub reviewers and leads can assign reviews.")
    uc = load_use_case(s, use_case_id)
    if uc.submitter_id == actor.person_id:
        raise NotAllowed("You submitted this use case, so someone else in the hub chooses its reviewer.")
    review = repo.current_review(s, uc.id)
    if review is None:
        raise InvalidMove(f"#{uc.id} went ahead self-serve; there is no review to assign.")
    if review.decision:
        raise already_decided(review)
    target = s.get(Person, reviewer_person_id)
    if refusal := cannot_take(target, uc.submitter_id, review.reviewer_id):
        raise FieldErrors({"reviewer": refusal})
    assert target is not None
    before = jsonable(UseCaseView.of(uc, review))
    previous = review.reviewer
    review.reviewer_id = target.id
    review.reviewer = target
    review.assigned_at = now
    review.reminded_at = None
    review.escalated_at = None
    uc.reviewer_id = target.id
    uc.reviewer = target
    uc.updated_at = now
    target.last_assigned_at = now
    s.flush()
    view = UseCaseView.of(uc, review)
    repo.audit(
        s,
        action="assigned",
        actor_id=actor.person_id,
        use_case_id=uc.id,
        before=before,
        after=jsonable(view),
        at=now,
    )
    what = f"Reassigned from {previous.name} to {target.name}" if previous else f"Assigned to {target.name}"
    full_note = f"{what} by {actor.name}" + (f": {note.strip()}" if note and note.strip() else "")
    update_card(s, view, now, note=full_note)
    payload = jsonable(ReviewCard(use_case=view, note=full_note))
    repo.enqueue(s, payload, person_id=target.id, ref_key=card_key(uc.id, review.round), at=now)
    uow.commit()
    return view
