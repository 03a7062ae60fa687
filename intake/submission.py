"""Submitting a use case, and editing and resubmitting it after a reviewer asked for changes."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from intake import duplicates
from intake.errors import FieldErrors, InvalidMove, NotAllowed
from intake.forms import FIELD_LABELS, unknown_department
from intake.guidelines import load_guidelines
from intake.notices import HUB, Receipt, SelfServeNotice
from intake.portfolio import hub_limits
from intake.portfolio_words import over_wip_text
from intake.read_models import Actor, Change, SubmitResult, UseCaseView, jsonable
from intake.reviews import load_use_case, open_round, post_card, route
from intake.schema import Route, Stage, Status, Submission, label
from intake.triage import triage
from storage import evidence, repo
from storage.db import UnitOfWork
from storage.models import Department, RequestKey, UseCase


def resolve_department(session: Session, name: str, actor: Actor, now: dt.datetime) -> Department:
    found = repo.find_department(session, name)
    if found:
        return found
    known = repo.departments(session)
    if known:
        raise FieldErrors({"department": unknown_department(name, [d.name for d in known])})
    # The hub has not set up departments yet: the first submissions create them rather than fail.
    dept = Department(name=" ".join(name.split()), key=repo.department_key(name), created_at=now)
    session.add(dept)
    session.flush()
    repo.audit(session, action="department_added", actor_id=actor.person_id, after={"name": dept.name}, at=now)
    return dept


def check_answers(sub: Submission, today: dt.date) -> None:
    if error := sub.check_target_date(today):
        raise FieldErrors({"target_date": error})


def snapshot(sub: Submission, department: Department) -> dict[str, object]:
    data = sub.model_dump(mode="json")
    data["department"] = department.name
    return data


def apply_answers(uc: UseCase, sub: Submission, department: Department) -> None:
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


LLM_ASSIST = "llm_assist"  # session info: an LLM endpoint is configured (storage.db.configure_llm)


def replayed_result(session: Session, request_key: str | None) -> SubmitResult | None:
    """The result of a request already carried out under `request_key` (a replayed submission), if any."""
    if request_key is None:
        return None
    done = session.get(RequestKey, request_key)
    if done is None or done.use_case_id is None:
        return None
    uc = load_use_case(session, done.use_case_id)
    view = UseCaseView.of(uc, repo.current_review(session, uc.id))
    return SubmitResult(use_case=view, resubmitted=view.review is not None and view.review.round > 1, replayed=True)


def commit_once(uow: UnitOfWork, request_key: str | None, use_case_id: int, now: dt.datetime) -> SubmitResult | None:
    """Commit, recording `request_key`; when a concurrent replay committed it first, that one's result.

    With an LLM configured, the model's view of its risk is asked for afterwards, as durable work.
    """
    if uow.session.info.get(LLM_ASSIST):
        from intake import risk_ai, semantic  # they build on what this module saves

        risk_ai.ask_later(uow, use_case_id, now)
        semantic.embed_later(uow, use_case_id, now)  # then its duplicates by meaning
    if request_key is not None:
        uow.session.add(RequestKey(key=request_key, use_case_id=use_case_id, created_at=now))
    try:
        uow.commit()
    except IntegrityError:
        uow.session.rollback()
        replayed = replayed_result(uow.session, request_key)
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
    if replayed := replayed_result(s, request_key):
        return replayed
    check_answers(sub, now.date())
    department = resolve_department(s, sub.department, actor, now)
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
    apply_answers(uc, sub, department)
    s.add(uc)
    s.flush()
    evidence.for_use_case(s, uc, evidence.Kind.SUBMITTED, actor.person_id, now)
    found = duplicates.check_duplicates(s, uc, now)  # in other departments: who to talk to
    matched: list[str] = []
    review = None
    if result.route is Route.HUB_REVIEW:
        reviewer, matched = route(s, sub, exclude=actor.person_id)
        review = open_round(s, uc, 1, reviewer, snapshot(sub, department), [], now)
    s.refresh(uc)
    view = UseCaseView.of(uc, review)
    repo.audit(s, action="submitted", actor_id=actor.person_id, use_case_id=uc.id, after=jsonable(view), at=now)
    if review is None:
        repo.enqueue(s, jsonable(SelfServeNotice(use_case=view)), channel=HUB, at=now)
    else:
        post_card(s, view, matched, now)
    over = over_wip_text(hub_limits(s))
    receipt = Receipt(use_case=view, duplicates=found, over_wip=over)
    repo.enqueue(s, jsonable(receipt), person_id=actor.person_id, at=now)
    if (shared := duplicates.cluster_to_tell(s, uc, now)) is not None:
        repo.enqueue(s, jsonable(shared), channel=HUB, at=now)
    if replayed := commit_once(uow, request_key, uc.id, now):
        return replayed
    return SubmitResult(use_case=view, matched_skills=matched, duplicates=found, over_wip=over)


def diff(before: dict[str, object], after: dict[str, object]) -> list[Change]:
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
    if replayed := replayed_result(s, request_key):
        return replayed
    uc = load_use_case(s, use_case_id)
    _check_editable(uc, actor)
    check_answers(sub, now.date())
    previous = repo.current_review(s, uc.id)
    assert previous is not None, "changes requested without a review round"
    before = jsonable(UseCaseView.of(uc, previous))
    department = resolve_department(s, sub.department, actor, now)
    answers = snapshot(sub, department)
    changes = diff(previous.submission, answers)
    if not changes:
        raise FieldErrors({"problem": "Nothing changed. Edit the answers the reviewer asked about, then resubmit."})
    result = triage(sub, load_guidelines(s))
    reasons = result.reasons
    if result.route is Route.SELF_SERVE:
        # The reviewer asked for changes, so the edit goes back to them even if it now qualifies.
        reasons = [*reasons[:-1], "Review: back with the reviewer who asked for changes"]
    apply_answers(uc, sub, department)
    uc.risk_tier = result.tier.value
    uc.triage_reasons = reasons
    uc.status = Status.IN_REVIEW.value
    uc.updated_at = now
    evidence.for_use_case(s, uc, evidence.Kind.SUBMITTED, actor.person_id, now)
    reviewer = previous.reviewer
    matched: list[str] = []
    if reviewer is None or reviewer.away or not reviewer.is_reviewer:
        reviewer, matched = route(s, sub, exclude=actor.person_id)
    review = open_round(s, uc, previous.round + 1, reviewer, answers, changes, now)
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
    post_card(s, view, matched, now)
    repo.enqueue(s, jsonable(Receipt(use_case=view, resubmitted=True)), person_id=actor.person_id, at=now)
    if replayed := commit_once(uow, request_key, uc.id, now):
        return replayed
    return SubmitResult(use_case=view, matched_skills=matched, resubmitted=True)
