"""Moving a use case through its lifecycle (the rules are in intake.lifecycle)."""

from __future__ import annotations

import datetime as dt

from intake import lifecycle, retros
from intake.errors import InvalidMove, NotAllowed
from intake.notices import HUB, StageMoved
from intake.read_models import Actor, PersonView, UseCaseView, jsonable
from intake.reviews import load_use_case
from intake.schema import Stage, Status
from storage import evidence, repo
from storage.db import UnitOfWork
from storage.models import Person

# The stages the hub channel hears about: where a use case starts to cost and to matter.
TOLD_TO_THE_HUB = frozenset({Stage.PRODUCTION_ENGINEERING, Stage.DEPLOYMENT})


def move_stage(uow: UnitOfWork, actor: Actor, use_case_id: int, target: Stage, *, now: dt.datetime) -> UseCaseView:
    """Move a use case one step through its lifecycle, for its owner or a lead.

    The hub channel hears when one reaches production engineering or deployment; the owner hears
    when a lead moved it.
    """
    s = uow.session
    uc = load_use_case(s, use_case_id)
    if uc.submitter_id != actor.person_id and not actor.is_lead:
        raise NotAllowed(f"Only the owner of #{uc.id} ({uc.submitter.name}) or a hub lead can move it.")
    lifecycle.check_move(Stage(uc.stage), Status(uc.status), target)
    if target is Stage.CLOSED:  # closing asks why (intake.closing); its reason goes in the audit trail
        raise InvalidMove(f"Closing a use case asks why: /usecase close {uc.id}")
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
    view = UseCaseView.of(uc, repo.current_review(s, uc.id))
    mover = s.get(Person, actor.person_id) if actor.person_id else None
    moved_by = PersonView.of(mover, with_skills=False) if mover else PersonView(id=0, name=actor.name)
    notice = jsonable(StageMoved(use_case=view, from_stage=Stage(before["stage"]), moved_by=moved_by))
    if target in TOLD_TO_THE_HUB:
        repo.enqueue(s, notice, channel=HUB, at=now)
    if uc.submitter_id != actor.person_id:  # a lead moved it: the owner hears it
        repo.enqueue(s, notice, person_id=uc.submitter_id, at=now)
    if target is Stage.DEPLOYMENT:
        retros.ask(s, uc, retros.Trigger.DEPLOYED, now=now)
    uow.commit()
    return view
