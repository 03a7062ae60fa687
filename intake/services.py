"""Use-case services: submit, resubmit, decide, assign, move through the lifecycle, and read."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from intake import lifecycle
from intake.errors import AlreadyDecided, FieldErrors, HubError, InvalidMove, NotAllowed, NotFound
from intake.guidelines import load_guidelines
from intake.notices import HUB, Outcome, Receipt, ReviewCard, SelfServeNotice, card_key
from intake.read_models import Actor, Change, SubmitResult, UseCaseView, jsonable
from intake.routing import Candidate, pick_reviewer
from intake.schema import FIELD_LABELS, Decision, Route, Stage, Status, Submission, label
from intake.triage import triage
from storage import evidence, repo
from storage.db import UnitOfWork
from storage.models import Department, Person, RequestKey, Review, UseCase

REASON_REQUIRED = {Decision.REJECT, Decision.REQUEST_CHANGES}
_DECISION_STATUS = {
    Decision.APPROVE: Status.APPROVED,
    Decision.REJECT: Status.REJECTED,
    Decision.REQUEST_CHANGES: Status.CHANGES_REQUESTED,
}


def _require_decider(session: Session, actor: Actor, refusal: str) -> None:
    """Refuse unless the actor is a reviewer or lead as stored now, read in the deciding transaction.

    The Actor an adapter passes may be seconds old (a cache, or another replica's view); a reviewer
    removed since must not decide. The CLI's SYSTEM actor (no person) is the hub itself.
    """
    if actor.person_id == 0 and actor.is_lead:
        return
    person = session.get(Person, actor.person_id, populate_existing=True)
    if person is None or not (person.is_reviewer or person.is_lead):
        raise NotAllowed(refusal)


def _get_use_case(session: Session, use_case_id: int) -> UseCase:
    uc = session.get(UseCase, use_case_id)
    if uc is None:
        raise NotFound(f"There is no use case #{use_case_id}.")
    return uc


def _resolve_department(session: Session, name: str, actor: Actor, now: dt.datetime) -> Department:
    found = repo.find_department(session, name)
    if found:
        return found
    known = repo.departments(session)
    if known:
        names = ", ".join(d.name for d in known[:15])
        raise FieldErrors({"department": f"Unknown department '{name}'. Choose one of: {names}."})
    # The hub has not set up departments yet: the first submissions create them rather than fail.
    dept = Department(name=" ".join(name.split()), key=repo.department_key(name), created_at=now)
    session.add(dept)
    session.flush()
    repo.audit(session, action="department_added", actor_id=actor.person_id, after={"name": dept.name}, at=now)
    return dept


def _check(sub: Submission, today: dt.date) -> None:
    if error := sub.check_target_date(today):
        raise FieldErrors({"target_date": error})


def _snapshot(sub: Submission, department: Department) -> dict[str, object]:
    data = sub.model_dump(mode="json")
    data["department"] = department.name
    return data


def _apply(uc: UseCase, sub: Submission, department: Department) -> None:
    uc.title = sub.title
    uc.problem = sub.problem
    uc.department_id = department.id
    uc.department = department
    uc.benefit = sub.benefit
    uc.success_metric = sub.success_metric
    uc.data_sources = sub.data_sources
    uc.data_availability = sub.data_availability.value
    uc.data_sensitivity = sub.data_sensitivity.value
    uc.people_affected = sub.people_affected.value
    uc.autonomy = sub.autonomy.value
    uc.target_date = sub.target_date
    uc.links = list(sub.links)


def _routing_text(sub: Submission) -> str:
    return " ".join([sub.title, sub.problem, sub.benefit, sub.data_sources, sub.department])


def _route(session: Session, sub: Submission, exclude: int | None) -> tuple[Person | None, list[str]]:
    counts = repo.open_review_counts(session)
    pool = [p for p in repo.reviewers(session) if not p.away and p.id != exclude]
    candidates = [Candidate(p.id, tuple(p.skill_names), counts.get(p.id, 0), p.last_assigned_at) for p in pool]
    picked = pick_reviewer(candidates, _routing_text(sub))
    if picked is None:
        return None, []
    best, matched = picked
    return next(p for p in pool if p.id == best.person_id), matched


def _open_round(
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


def _post_card(session: Session, view: UseCaseView, matched: list[str], now: dt.datetime) -> None:
    assert view.review is not None
    payload = jsonable(ReviewCard(use_case=view, matched_skills=matched))
    key = card_key(view.id, view.review.round)
    repo.enqueue(session, payload, channel=HUB, ref_key=key, at=now)
    if view.reviewer:
        repo.enqueue(session, payload, person_id=view.reviewer.id, ref_key=key, at=now)


def _update_card(session: Session, view: UseCaseView, now: dt.datetime, note: str | None = None) -> None:
    assert view.review is not None
    payload = jsonable(ReviewCard(use_case=view, note=note))
    repo.enqueue(session, payload, operation="update", ref_key=card_key(view.id, view.review.round), at=now)


def _replayed(session: Session, request_key: str | None) -> SubmitResult | None:
    """The result of a request already carried out under `request_key` (a replayed submission), if any."""
    if request_key is None:
        return None
    done = session.get(RequestKey, request_key)
    if done is None or done.use_case_id is None:
        return None
    uc = _get_use_case(session, done.use_case_id)
    view = UseCaseView.of(uc, repo.current_review(session, uc.id))
    return SubmitResult(use_case=view, resubmitted=view.review is not None and view.review.round > 1, replayed=True)


def _commit_once(uow: UnitOfWork, request_key: str | None, use_case_id: int, now: dt.datetime) -> SubmitResult | None:
    """Commit, recording `request_key`; when a concurrent replay committed it first, that one's result."""
    if request_key is not None:
        uow.session.add(RequestKey(key=request_key, use_case_id=use_case_id, created_at=now))
    try:
        uow.commit()
    except IntegrityError:
        uow.session.rollback()
        replayed = _replayed(uow.session, request_key)
        if replayed is None:
            raise
        return replayed
    return None


def submit_use_case(
    uow: UnitOfWork, actor: Actor, sub: Submission, *, request_key: str | None = None, now: dt.datetime
) -> SubmitResult:
    """Record a new use case, triage it, route it, and queue the notices; committed on return.

    `request_key` makes a submission idempotent: the same key again returns the first result and
    stores nothing (a replayed or double-sent form).
    """
    s = uow.session
    if replayed := _replayed(s, request_key):
        return replayed
    _check(sub, now.date())
    department = _resolve_department(s, sub.department, actor, now)
    result = triage(sub, load_guidelines(s))
    uc = UseCase(
        submitter_id=actor.person_id,
        risk_tier=result.tier.value,
        route=result.route.value,
        triage_reasons=result.reasons,
        status=(Status.SELF_SERVE if result.route is Route.SELF_SERVE else Status.IN_REVIEW).value,
        stage=Stage.IDEATION.value,
        created_at=now,
        updated_at=now,
    )
    _apply(uc, sub, department)
    s.add(uc)
    s.flush()
    evidence.for_use_case(s, uc, evidence.Kind.SUBMITTED, actor.person_id, now)
    matched: list[str] = []
    review = None
    if result.route is Route.HUB_REVIEW:
        reviewer, matched = _route(s, sub, exclude=actor.person_id)
        review = _open_round(s, uc, 1, reviewer, _snapshot(sub, department), [], now)
    s.refresh(uc)
    view = UseCaseView.of(uc, review)
    repo.audit(s, action="submitted", actor_id=actor.person_id, use_case_id=uc.id, after=jsonable(view), at=now)
    if review is None:
        repo.enqueue(s, jsonable(SelfServeNotice(use_case=view)), channel=HUB, at=now)
    else:
        _post_card(s, view, matched, now)
    repo.enqueue(s, jsonable(Receipt(use_case=view)), person_id=actor.person_id, at=now)
    if replayed := _commit_once(uow, request_key, uc.id, now):
        return replayed
    return SubmitResult(use_case=view, matched_skills=matched)


def _diff(before: dict[str, object], after: dict[str, object]) -> list[Change]:
    changes = []
    for field, name in FIELD_LABELS.items():
        old, new = before.get(field), after.get(field)
        if old != new:
            changes.append(Change(field=name, before=_show(old), after=_show(new)))
    return changes


def _show(value: object) -> str:
    if value is None or value == [] or value == "":
        return "(empty)"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def _check_editable(uc: UseCase, actor: Actor) -> None:
    if uc.submitter_id != actor.person_id:
        raise NotAllowed("Only the person who submitted this use case can edit and resubmit it.")
    if uc.status != Status.CHANGES_REQUESTED:
        raise InvalidMove(
            f"#{uc.id} is {label(Status(uc.status)).lower()}; only use cases with changes requested can be resubmitted."
        )


def use_case_to_edit(uow: UnitOfWork, actor: Actor, use_case_id: int) -> UseCaseView:
    """The use case its submitter may now edit and resubmit, or the reason they may not."""
    uc = _get_use_case(uow.session, use_case_id)
    _check_editable(uc, actor)
    return UseCaseView.of(uc, repo.current_review(uow.session, uc.id))


def resubmit_use_case(
    uow: UnitOfWork,
    actor: Actor,
    use_case_id: int,
    sub: Submission,
    *,
    request_key: str | None = None,
    now: dt.datetime,
) -> SubmitResult:
    """Send an edited use case back to its reviewer after changes were requested (idempotent on `request_key`)."""
    s = uow.session
    if replayed := _replayed(s, request_key):
        return replayed
    uc = _get_use_case(s, use_case_id)
    _check_editable(uc, actor)
    _check(sub, now.date())
    previous = repo.current_review(s, uc.id)
    assert previous is not None, "changes requested without a review round"
    before = jsonable(UseCaseView.of(uc, previous))
    department = _resolve_department(s, sub.department, actor, now)
    snapshot = _snapshot(sub, department)
    changes = _diff(previous.submission, snapshot)
    if not changes:
        raise FieldErrors({"problem": "Nothing changed. Edit the answers the reviewer asked about, then resubmit."})
    result = triage(sub, load_guidelines(s))
    reasons = result.reasons
    if result.route is Route.SELF_SERVE:
        # The reviewer asked for changes, so the edit goes back to them even if it now qualifies.
        reasons = [*reasons[:-1], "Review: back with the reviewer who asked for changes"]
    _apply(uc, sub, department)
    uc.risk_tier = result.tier.value
    uc.triage_reasons = reasons
    uc.status = Status.IN_REVIEW.value
    uc.updated_at = now
    evidence.for_use_case(s, uc, evidence.Kind.SUBMITTED, actor.person_id, now)
    reviewer = previous.reviewer
    matched: list[str] = []
    if reviewer is None or reviewer.away or not reviewer.is_reviewer:
        reviewer, matched = _route(s, sub, exclude=actor.person_id)
    review = _open_round(s, uc, previous.round + 1, reviewer, snapshot, changes, now)
    s.refresh(uc)
    view = UseCaseView.of(uc, review)
    repo.audit(
        s,
        action="resubmitted",
        actor_id=actor.person_id,
        use_case_id=uc.id,
        before=before,
        after=jsonable(view),
        at=now,
    )
    _post_card(s, view, matched, now)
    repo.enqueue(s, jsonable(Receipt(use_case=view, resubmitted=True)), person_id=actor.person_id, at=now)
    if replayed := _commit_once(uow, request_key, uc.id, now):
        return replayed
    return SubmitResult(use_case=view, matched_skills=matched, resubmitted=True)


def _already_decided(review: Review) -> AlreadyDecided:
    who = review.decided_by.name if review.decided_by else "Someone"
    verb = label(Decision(review.decision)).lower() if review.decision else "decided"
    verb = verb.replace("changes requested", "requested changes on")
    return AlreadyDecided(
        f"{who} already {verb} this one.", decided_at=review.decided_at, decided_by_id=review.decided_by_id
    )


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
    _require_decider(s, actor, "Only hub reviewers can decide on use cases.")
    uc = _get_use_case(s, use_case_id)
    if uc.submitter_id == actor.person_id:
        raise NotAllowed("You submitted this use case, so another hub reviewer decides on it.")
    review = repo.current_review(s, uc.id)
    if review is None:
        raise InvalidMove(f"#{uc.id} went ahead self-serve; there is no review to decide.")
    if round_ is not None and round_ != review.round:
        old = s.scalar(select(Review).where(Review.use_case_id == uc.id, Review.round == round_))
        if old is not None and old.decision:
            raise _already_decided(old)
        raise InvalidMove("This card is out of date: the use case was resubmitted. Use the newest card.")
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
        raise _already_decided(review)
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
    _update_card(s, view, now)
    repo.enqueue(s, jsonable(Outcome(use_case=view)), person_id=uc.submitter_id, at=now)
    uow.commit()
    return view


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
    _require_decider(s, actor, "Only hub reviewers and leads can assign reviews.")
    uc = _get_use_case(s, use_case_id)
    review = repo.current_review(s, uc.id)
    if review is None:
        raise InvalidMove(f"#{uc.id} went ahead self-serve; there is no review to assign.")
    if review.decision:
        raise _already_decided(review)
    target = s.get(Person, reviewer_person_id)
    if target is None or not target.is_reviewer:
        raise FieldErrors({"reviewer": "Pick a hub reviewer (a lead adds them with /hub reviewer add)."})
    if target.away:
        raise FieldErrors({"reviewer": f"{target.name} is away. Pick someone else."})
    if target.id == uc.submitter_id:
        raise FieldErrors({"reviewer": "Submitters cannot review their own use case."})
    if target.id == review.reviewer_id:
        raise FieldErrors({"reviewer": f"{target.name} already has this review."})
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
    _update_card(s, view, now, note=full_note)
    payload = jsonable(ReviewCard(use_case=view, note=full_note))
    repo.enqueue(s, payload, person_id=target.id, ref_key=card_key(uc.id, review.round), at=now)
    uow.commit()
    return view


def move_stage(uow: UnitOfWork, actor: Actor, use_case_id: int, target: Stage, *, now: dt.datetime) -> UseCaseView:
    """Move a use case one step through its lifecycle, for its owner or a lead."""
    s = uow.session
    uc = _get_use_case(s, use_case_id)
    if uc.submitter_id != actor.person_id and not actor.is_lead:
        raise NotAllowed(f"Only the owner of #{uc.id} ({uc.submitter.name}) or a hub lead can move it.")
    lifecycle.check_move(Stage(uc.stage), Status(uc.status), target)
    before = {"stage": uc.stage}
    uc.stage = target.value
    uc.updated_at = now
    evidence.on_stage(s, uc, now)
    repo.audit(
        s,
        action="stage",
        actor_id=actor.person_id,
        use_case_id=uc.id,
        before=before,
        after={"stage": target.value},
        at=now,
    )
    uow.commit()
    return UseCaseView.of(uc, repo.current_review(s, uc.id))


def get_use_case(uow: UnitOfWork, use_case_id: int) -> UseCaseView:
    """One use case with its current review round."""
    uc = _get_use_case(uow.session, use_case_id)
    return UseCaseView.of(uc, repo.current_review(uow.session, uc.id))


MAX_ID = 2**31 - 1  # ids are 32-bit integers on every backend


def parse_id(text: str) -> int:
    """A use case id from `12` or `#12`, or a HubError saying what was expected (or that there is none)."""
    cleaned = text.strip().lstrip("#")
    if not (cleaned.isascii() and cleaned.isdigit()):
        shown = text.strip()[:40] or "(nothing)"
        raise HubError(f"'{shown}' is not a use case id; ids look like #12.")
    number = int(cleaned[:40])
    if number > MAX_ID or len(cleaned) > 40:
        raise NotFound(f"There is no use case #{cleaned[:20]}{'…' if len(cleaned) > 20 else ''}.")
    return number


def my_use_cases(uow: UnitOfWork, actor: Actor) -> list[UseCaseView]:
    """The use cases this person submitted, newest activity first."""
    s = uow.session
    return [UseCaseView.of(uc, repo.current_review(s, uc.id)) for uc in repo.use_cases_of(s, actor.person_id)]


def my_review_queue(uow: UnitOfWork, actor: Actor) -> list[UseCaseView]:
    """Use cases waiting on this reviewer, oldest first."""
    s = uow.session
    return [UseCaseView.of(uc, repo.current_review(s, uc.id)) for uc in repo.review_queue(s, actor.person_id)]
