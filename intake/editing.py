"""Editing a use case at any time, for its owner or a lead: re-triaged, audited, and back to hub review when an
edit raises the risk tier of a use case that had the go-ahead.

After a reviewer asked for changes, the owner's edit is a resubmission (intake.submission) and goes back to
that reviewer. While a review waits, the edit is saved and the review card changes in place to show it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from intake import duplicates
from intake.errors import FieldErrors, NotAllowed
from intake.guidelines import load_guidelines
from intake.lifecycle import GO_AHEAD
from intake.notices import Receipt
from intake.read_models import Actor, SubmitResult, UseCaseView, jsonable
from intake.reviews import load_use_case, open_round, post_card, route, update_card
from intake.schema import RiskTier, Route, Stage, Status, Submission, label
from intake.submission import (
    apply_answers,
    check_answers,
    commit_once,
    diff,
    replayed_result,
    resolve_department,
    resubmit_use_case,
    snapshot,
)
from intake.triage import Triage, triage
from storage import evidence, repo
from storage.db import UnitOfWork
from storage.models import UseCase

_TIERS = [RiskTier.LOW, RiskTier.MEDIUM, RiskTier.HIGH]
NOTHING_CHANGED = "Nothing changed: edit an answer, or cancel."


@dataclass(frozen=True)
class EditTarget:
    """A use case someone may edit, and how the edit is saved."""

    use_case: UseCaseView
    resubmit: bool  # changes were requested of its owner: the edit goes back to the reviewer who asked


def _check_editor(uc: UseCase, actor: Actor) -> None:
    if uc.submitter_id != actor.person_id and not actor.is_lead:
        raise NotAllowed(f"Only {uc.submitter.name} (who submitted #{uc.id}) or a hub lead can edit it.")


def _resubmits(uc: UseCase, actor: Actor) -> bool:
    return uc.submitter_id == actor.person_id and uc.status == Status.CHANGES_REQUESTED.value


def use_case_for_edit(uow: UnitOfWork, actor: Actor, use_case_id: int) -> EditTarget:
    """The use case `actor` may edit (to pre-fill the form), or the reason they may not."""
    uc = load_use_case(uow.session, use_case_id)
    _check_editor(uc, actor)
    return EditTarget(UseCaseView.of(uc, repo.current_review(uow.session, uc.id)), resubmit=_resubmits(uc, actor))


def _raised(before: RiskTier, after: RiskTier) -> bool:
    return _TIERS.index(after) > _TIERS.index(before)


def _reasons(result: Triage, kept: Route) -> list[str]:
    """Triage's reasons for the route the use case keeps (an edit that did not raise the tier keeps its route)."""
    if result.route is kept:
        return result.reasons
    risk = [r for r in result.reasons if not r.startswith("Review:") and r != "Meets the hub's self-serve guidelines"]
    if kept is Route.SELF_SERVE:
        return [*risk, "Self-serve: it went ahead before this edit, which did not raise the risk tier"]
    return [*risk, "Review: the hub reviewed it before this edit"]


def edit_use_case(
    uow: UnitOfWork,
    actor: Actor,
    use_case_id: int,
    sub: Submission,
    *,
    request_key: str | None = None,
    now: dt.datetime,
) -> SubmitResult:
    """Save an edit of a use case's answers, re-triaged; committed on return (idempotent on `request_key`)."""
    s = uow.session
    if replayed := replayed_result(s, request_key):
        return replayed.model_copy(update={"edited": True})
    uc = load_use_case(s, use_case_id)
    _check_editor(uc, actor)
    if _resubmits(uc, actor):
        return resubmit_use_case(uow, actor, use_case_id, sub, request_key=request_key, now=now)
    check_answers(sub, now.date())
    review = repo.current_review(s, uc.id)
    before_view = UseCaseView.of(uc, review)
    department = resolve_department(s, sub.department, actor, now)
    answers = snapshot(sub, department)
    changes = diff(before_view.answers(), answers)
    if not changes:
        raise FieldErrors({"title": NOTHING_CHANGED})
    result = triage(sub, load_guidelines(s))
    old_tier, status = RiskTier(uc.risk_tier), Status(uc.status)
    back_to_review = _raised(old_tier, result.tier) and status in GO_AHEAD and uc.stage != Stage.CLOSED.value
    waiting = review is not None and review.decision is None
    apply_answers(uc, sub, department)
    uc.risk_tier = result.tier.value
    uc.updated_at = now
    matched: list[str] = []
    if back_to_review:
        uc.status, uc.route = Status.IN_REVIEW.value, Route.HUB_REVIEW.value
        uc.triage_reasons = result.reasons
        reviewer, matched = route(s, sub, exclude=uc.submitter_id)
        review = open_round(s, uc, (review.round + 1) if review else 1, reviewer, answers, changes, now)
    else:
        uc.triage_reasons = _reasons(result, Route(uc.route))
        if waiting and review is not None:
            review.submission = answers  # what the reviewer now reads; a resubmission's changes count from here
    evidence.for_use_case(s, uc, evidence.Kind.SUBMITTED, uc.submitter_id, now)
    s.flush()
    s.refresh(uc)
    found = duplicates.check_duplicates(s, uc, now)  # the edit may make it look like another department's
    view = UseCaseView.of(uc, review)
    _audit(uow, actor, uc, before_view, view, now)
    note = f"Edited by {actor.name}: {', '.join(c.field for c in changes)}"
    if back_to_review:
        rose = f"{note}. The risk tier rose from {label(old_tier)} to {label(result.tier)}, so it is back in review."
        post_card(s, view, matched, now, note=rose)
        repo.enqueue(s, jsonable(Receipt(use_case=view)), person_id=uc.submitter_id, at=now)
    elif waiting:
        update_card(s, view, now, note=note)
    if replayed := commit_once(uow, request_key, uc.id, now):
        return replayed.model_copy(update={"edited": True})
    return SubmitResult(
        use_case=view,
        matched_skills=matched,
        edited=True,
        changes=changes,
        back_to_review=back_to_review,
        duplicates=found,
    )


def _audit(
    uow: UnitOfWork,
    actor: Actor,
    uc: UseCase,
    before: UseCaseView,
    after: UseCaseView,
    now: dt.datetime,
) -> None:
    """One audit row: the answers that changed, before and after, with the tier and status around them."""
    old, new = before.answers(), after.answers()
    fields = [name for name in old if old[name] != new[name]]
    repo.audit(
        uow.session,
        action="edited",
        actor_id=actor.person_id,
        use_case_id=uc.id,
        before={**{f: old[f] for f in fields}, "risk_tier": before.risk_tier.value, "status": before.status.value},
        after={
            **{f: new[f] for f in fields},
            "risk_tier": after.risk_tier.value,
            "status": after.status.value,
            "round": after.review.round if after.review else None,
        },
        at=now,
    )
