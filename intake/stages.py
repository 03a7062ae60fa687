"""Moving a use case through its lifecycle (the rules are in intake.lifecycle)."""

from __future__ import annotations

import datetime as dt

from intake import lifecycle
from intake.errors import NotAllowed
from intake.read_models import Actor, UseCaseView
from intake.reviews import load_use_case
from intake.schema import Stage, Status
from storage import evidence, repo
from storage.db import UnitOfWork


def move_stage(uow: UnitOfWork, actor: Actor, use_case_id: int, target: Stage, *, now: dt.datetime) -> UseCaseView:
    """Move a use case one step through its lifecycle, for its owner or a lead."""
    s = uow.session
    uc = load_use_case(s, use_case_id)
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
