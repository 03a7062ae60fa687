"""Ending a use case and bringing it back: close it (with a reason), withdraw it from review, reopen it (leads).

Closing or withdrawing a use case that waits for review ends that review round (recorded as `withdrawn`, by a
conditional update, so it and a reviewer's decision cannot both win), updates the review card in place, tells
the reviewer, and stops its reminders. Every step is in the audit trail with who and why; the status shows it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from intake import lifecycle, retros
from intake.decisions import already_decided
from intake.errors import FieldErrors, InvalidMove, NotAllowed
from intake.forms import too_long
from intake.notices import Reopened, StageMoved, Withdrawn
from intake.read_models import Actor, Closure, PersonView, UseCaseView, jsonable
from intake.reviews import load_use_case, open_round, post_card, route, update_card
from intake.schema import Decision, Route, Stage, Status, Submission, label
from intake.text import clean_text
from storage import repo
from storage.db import UnitOfWork
from storage.models import AuditEvent, Person, Review, UseCase

CLOSED = "closed"
WITHDRAWN = "withdrawn"
REOPENED = "reopened"
# Audit actions that may have closed a use case ("stage": a move to closed, before closing asked for a reason).
ENDINGS = (CLOSED, WITHDRAWN, "stage")
MAX_REASON = 2000
REASON_NEEDED = "Say why in a sentence: it is kept in the audit trail and shown on its status."


def _reason(reason: str | None, *, required: bool = True) -> str | None:
    text = clean_text(reason or "").strip()
    if not text and required:
        raise FieldErrors({"reason": REASON_NEEDED})
    if len(text) > MAX_REASON:
        raise FieldErrors({"reason": too_long(MAX_REASON)})
    return text or None


def _by(session: Session, actor: Actor) -> PersonView:
    person = session.get(Person, actor.person_id) if actor.person_id else None
    return PersonView.of(person, with_skills=False) if person else PersonView(id=0, name=actor.name)


def _owner_or_lead(uc: UseCase, actor: Actor, verb: str) -> None:
    if uc.submitter_id != actor.person_id and not actor.is_lead:
        raise NotAllowed(f"Only the owner of #{uc.id} ({uc.submitter.name}) or a hub lead can {verb} it.")


def _lead(session: Session, actor: Actor) -> None:
    """Only leads reopen; their role is read in this transaction (the actor an adapter passes may be stale)."""
    if actor.person_id == 0 and actor.is_lead:
        return
    person = session.get(Person, actor.person_id, populate_existing=True)
    if person is None or not person.is_lead:
        raise NotAllowed("Only a hub lead can reopen a use case.")


def _closing_of(event: AuditEvent) -> bool:
    return (event.after or {}).get("stage") == Stage.CLOSED.value and event.action in ENDINGS


def closure_of(session: Session, uc: UseCase) -> Closure | None:
    """Who closed `uc`, when, why and from which stage, from its audit trail (None while it is open)."""
    if uc.stage != Stage.CLOSED.value:
        return None
    for event in repo.audits_of(session, uc.id, ENDINGS):
        if not _closing_of(event):
            continue
        by = session.get(Person, event.actor_id) if event.actor_id else None
        before = (event.before or {}).get("stage")
        return Closure(
            by=PersonView.of(by, with_skills=False) if by else None,
            at=event.at,
            reason=(event.after or {}).get("reason"),
            withdrawn=event.action == WITHDRAWN,
            from_stage=Stage(before) if before in lifecycle.ORDER else None,
        )
    return None  # closed by an imported register: nobody here closed it


def _stage_before_close(session: Session, uc: UseCase) -> Stage:
    """Where `uc` was before it was closed (ideation when nobody here closed it)."""
    for event in repo.audits_of(session, uc.id, ENDINGS):
        before = (event.before or {}).get("stage")
        if _closing_of(event) and before and before != Stage.CLOSED.value:
            return Stage(before)
    return Stage.IDEATION


def view_of(session: Session, uc: UseCase, review: Review | None) -> UseCaseView:
    """A use case as its status shows it: with its review round and, once closed, its closure."""
    return UseCaseView.of(uc, review).model_copy(update={"closed": closure_of(session, uc)})


def _end_review(session: Session, review: Review, actor: Actor, reason: str | None, now: dt.datetime) -> None:
    """Record the waiting round as withdrawn, unless a decision committed first (then say whose)."""
    by_id = actor.person_id or None
    won = session.execute(
        update(Review)
        .where(Review.id == review.id, Review.decision.is_(None))
        .values(decision=Decision.WITHDRAWN.value, reason=reason, decided_by_id=by_id, decided_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    if won != 1:
        session.refresh(review)
        raise already_decided(review)
    for key, value in (
        ("decision", Decision.WITHDRAWN.value),
        ("reason", reason),
        ("decided_by_id", by_id),
        ("decided_at", now),
        ("decided_by", session.get(Person, by_id) if by_id else None),
    ):
        set_committed_value(review, key, value)


def _tell_reviewer(
    session: Session, view: UseCaseView, review: Review, by: PersonView, reason: str | None, now: dt.datetime
) -> None:
    """The card changes in place everywhere it was posted; the reviewer also gets a DM, since edits notify nobody."""
    update_card(session, view, now)
    if review.reviewer_id is not None and review.reviewer_id != by.id:
        notice = Withdrawn(use_case=view, by=by, reason=reason)
        repo.enqueue(session, jsonable(notice), person_id=review.reviewer_id, at=now)


def _waiting(review: Review | None, uc: UseCase) -> bool:
    return review is not None and review.decision is None and uc.status == Status.IN_REVIEW.value


def _with_closure(
    view: UseCaseView, by: PersonView, at: dt.datetime, reason: str | None, before: Stage, **kw: Any
) -> UseCaseView:
    closure = Closure(by=by, at=at, reason=reason, from_stage=before if before is not Stage.CLOSED else None, **kw)
    return view.model_copy(update={"closed": closure})


def check_close(uow: UnitOfWork, actor: Actor, use_case_id: int) -> UseCaseView:
    """The use case `actor` may close now (so they can be asked why), or the reason they may not."""
    uc = load_use_case(uow.session, use_case_id)
    _owner_or_lead(uc, actor, "close")
    lifecycle.check_move(Stage(uc.stage), Status(uc.status), Stage.CLOSED)
    return UseCaseView.of(uc, repo.current_review(uow.session, uc.id))


def close_use_case(
    uow: UnitOfWork, actor: Actor, use_case_id: int, reason: str | None, *, now: dt.datetime
) -> UseCaseView:
    """Close a use case for its owner or a lead, with a reason; a review still waiting on it ends as withdrawn."""
    s = uow.session
    uc = load_use_case(s, use_case_id)
    _owner_or_lead(uc, actor, "close")
    lifecycle.check_move(Stage(uc.stage), Status(uc.status), Stage.CLOSED)
    why = _reason(reason)
    before = {"stage": uc.stage, "status": uc.status}
    review = repo.current_review(s, uc.id)
    waiting = _waiting(review, uc)
    if waiting:
        assert review is not None
        _end_review(s, review, actor, why, now)
        uc.status = Status.WITHDRAWN.value
    uc.stage = Stage.CLOSED.value
    uc.updated_at = now
    by = _by(s, actor)
    view = _with_closure(UseCaseView.of(uc, review), by, now, why, Stage(before["stage"]))
    after = {"stage": uc.stage, "status": uc.status, "reason": why}
    repo.audit(s, action=CLOSED, actor_id=actor.person_id, use_case_id=uc.id, before=before, after=after, at=now)
    if waiting:
        assert review is not None
        _tell_reviewer(s, view, review, by, why, now)
    if uc.submitter_id != actor.person_id:  # a lead closed it: the owner hears it
        notice = StageMoved(use_case=view, from_stage=Stage(before["stage"]), moved_by=by, reason=why)
        repo.enqueue(s, jsonable(notice), person_id=uc.submitter_id, at=now)
    if not waiting:  # closed out of a waiting review, nothing was tried yet: no retro to ask
        retros.ask(s, uc, retros.Trigger.CLOSED, now=now)
    uow.commit()
    return view


def withdraw_use_case(
    uow: UnitOfWork, actor: Actor, use_case_id: int, reason: str | None = None, *, now: dt.datetime
) -> UseCaseView:
    """Take a submission out of review, for its owner: the reviewer's card says so and its reminders stop."""
    s = uow.session
    uc = load_use_case(s, use_case_id)
    if uc.submitter_id != actor.person_id:
        raise NotAllowed(
            f"Only {uc.submitter.name}, who submitted #{uc.id}, can withdraw it. "
            f"A hub lead can close it: /usecase close {uc.id}"
        )
    review = repo.current_review(s, uc.id)
    if review is None or not _waiting(review, uc):
        raise InvalidMove(
            f"#{uc.id} is {label(Status(uc.status)).lower()}, not waiting for review, so there is nothing to "
            f"withdraw. To stop it, close it: /usecase close {uc.id}"
        )
    why = _reason(reason, required=False)
    before = {"stage": uc.stage, "status": uc.status}
    _end_review(s, review, actor, why, now)
    uc.status = Status.WITHDRAWN.value
    uc.stage = Stage.CLOSED.value
    uc.updated_at = now
    by = _by(s, actor)
    view = _with_closure(UseCaseView.of(uc, review), by, now, why, Stage(before["stage"]), withdrawn=True)
    after = {"stage": uc.stage, "status": uc.status, "reason": why}
    repo.audit(s, action=WITHDRAWN, actor_id=actor.person_id, use_case_id=uc.id, before=before, after=after, at=now)
    _tell_reviewer(s, view, review, by, why, now)
    uow.commit()
    return view


def check_reopen(uow: UnitOfWork, actor: Actor, use_case_id: int) -> UseCaseView:
    """The use case a lead may reopen now (so they can be asked why), or the reason they may not."""
    s = uow.session
    _lead(s, actor)
    uc = load_use_case(s, use_case_id)
    _check_reopenable(uc)
    return UseCaseView.of(uc, repo.current_review(s, uc.id))


def _check_reopenable(uc: UseCase) -> None:
    if not lifecycle.can_reopen(Stage(uc.stage), Status(uc.status)):
        raise InvalidMove(
            f"#{uc.id} is {label(Status(uc.status)).lower()} in {label(Stage(uc.stage)).lower()}: "
            "only a closed or rejected use case can be reopened."
        )


def reopen_use_case(
    uow: UnitOfWork, actor: Actor, use_case_id: int, reason: str | None, *, now: dt.datetime
) -> UseCaseView:
    """Bring a closed or rejected use case back, for a lead: to the stage it was in, and to hub review if the
    hub never gave it the go-ahead (rejected or withdrawn: a new round, routed as usual)."""
    s = uow.session
    _lead(s, actor)
    uc = load_use_case(s, use_case_id)
    _check_reopenable(uc)
    why = _reason(reason)
    before = {"stage": uc.stage, "status": uc.status}
    if uc.stage == Stage.CLOSED.value:
        uc.stage = _stage_before_close(s, uc).value
    review = repo.current_review(s, uc.id)
    matched: list[str] = []
    back_to_review = Status(uc.status) in lifecycle.ENDED
    if back_to_review:
        answers = UseCaseView.of(uc, review).answers()
        # Routing reads words only; an imported register's row need not meet today's form rules.
        reviewer, matched = route(s, Submission.model_construct(**answers), exclude=uc.submitter_id)
        review = open_round(s, uc, (review.round + 1) if review else 1, reviewer, answers, [], now)
        uc.status = Status.IN_REVIEW.value
        uc.route = Route.HUB_REVIEW.value
    uc.updated_at = now
    s.flush()
    s.refresh(uc)
    view = UseCaseView.of(uc, review)
    by = _by(s, actor)
    after: dict[str, object] = {"stage": uc.stage, "status": uc.status, "reason": why}
    if back_to_review and review is not None:
        after["round"] = review.round
    repo.audit(s, action=REOPENED, actor_id=actor.person_id, use_case_id=uc.id, before=before, after=after, at=now)
    if back_to_review:
        post_card(s, view, matched, now, note=f"Reopened by {by.name}: {why}")
    if uc.submitter_id != actor.person_id:
        repo.enqueue(s, jsonable(Reopened(use_case=view, by=by, reason=why)), person_id=uc.submitter_id, at=now)
    uow.commit()
    return view
