"""What a person may do with a use case right now: one vocabulary, decided here for every surface."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from intake.lifecycle import allowed_moves, can_reopen
from intake.notices import (
    DraftReady,
    Notice,
    Outcome,
    RetroPrompt,
    ReviewCard,
    ReviewNudge,
    ShowcaseInvitation,
)
from intake.read_models import Actor, PersonView, UseCaseView
from intake.schema import Stage, Status


class Action(StrEnum):
    APPROVE = "approve"
    REQUEST_CHANGES = "request_changes"
    REJECT = "reject"
    REASSIGN = "reassign"
    PICK_REVIEWER = "pick_reviewer"
    EDIT_RESUBMIT = "edit_resubmit"
    EDIT = "edit"
    WITHDRAW = "withdraw"
    CLOSE = "close"
    REOPEN = "reopen"
    MOVE_STAGE = "move_stage"
    TAKE_OVER = "take_over"  # offered to a reviewer whose decision was refused because another holds the review
    # What a submitter says of a likely duplicate in another department (on the receipt, once per duplicate).
    SAME_AS = "same_as"
    RELATED = "related"
    DIFFERENT = "different"
    WRITE_RETRO = "write_retro"  # on a retro prompt, to its owner
    # What a person answers to an invitation to present at a showcase.
    PRESENT = "present"
    NOT_THIS_TIME = "not_this_time"
    NOMINATE = "nominate"
    OPEN_DRAFT = "open_draft"  # the intake form filled in from what someone wrote


LABELS = {
    Action.APPROVE: "Approve",
    Action.REQUEST_CHANGES: "Request changes",
    Action.REJECT: "Reject",
    Action.REASSIGN: "Reassign",
    Action.PICK_REVIEWER: "Pick a reviewer",
    Action.EDIT_RESUBMIT: "Edit and resubmit",
    Action.EDIT: "Edit",
    Action.WITHDRAW: "Withdraw",
    Action.CLOSE: "Close",
    Action.REOPEN: "Reopen",
    Action.MOVE_STAGE: "Move stage",
    Action.TAKE_OVER: "Take it over",
    Action.SAME_AS: "Same",
    Action.RELATED: "Related",
    Action.DIFFERENT: "Different…",
    Action.WRITE_RETRO: "Write the retro",
    Action.PRESENT: "Yes, I'll present",
    Action.NOT_THIS_TIME: "Not this time",
    Action.NOMINATE: "Nominate a colleague…",
    Action.OPEN_DRAFT: "Check and submit",
}
# The answers to a likely duplicate, and the relation each records.
ON_DUPLICATE = (Action.SAME_AS, Action.RELATED, Action.DIFFERENT)
DECISIONS = (Action.APPROVE, Action.REQUEST_CHANGES, Action.REJECT)
ASSIGNING = (Action.REASSIGN, Action.PICK_REVIEWER)
DECIDER_ACTIONS = (*DECISIONS, *ASSIGNING)  # what only hub reviewers and leads may do
# What an owner or a lead does with the use case itself: offered on its status, never on a card or a DM.
MANAGING = (Action.EDIT, Action.WITHDRAW, Action.CLOSE, Action.REOPEN)
# Drawn as buttons (or a picker); moving a stage needs a target, so surfaces offer it as a command.
# Take it over: on a refusal only; the answers to a duplicate: on a receipt, one row per duplicate.
ON_INVITATION = (Action.PRESENT, Action.NOT_THIS_TIME, Action.NOMINATE)
BUTTONS = (
    *DECIDER_ACTIONS,
    Action.EDIT_RESUBMIT,
    *MANAGING,
    Action.TAKE_OVER,
    *ON_DUPLICATE,
    Action.WRITE_RETRO,
    *ON_INVITATION,
    Action.OPEN_DRAFT,
)


@dataclass(frozen=True)
class Viewer:
    """Who looks at a use case, with their stored roles; no `person_id` means nobody in particular."""

    person_id: int | None = None
    is_reviewer: bool = False
    is_lead: bool = False

    @classmethod
    def of(cls, who: Actor | PersonView) -> Viewer:
        """The viewer an actor or a person is."""
        person_id = who.person_id if isinstance(who, Actor) else who.id
        return cls(person_id, is_reviewer=who.is_reviewer, is_lead=who.is_lead)


STRANGER = Viewer()
# Whoever reads a post in the hub channel: a reviewer or a lead may pick it up; the service checks each click.
HUB_AUDIENCE = Viewer(is_reviewer=True, is_lead=True)


def available_actions(uc: UseCaseView, viewer: Viewer) -> tuple[Action, ...]:
    """What `viewer` may do with `uc` in its current state, in the order surfaces offer it."""
    owner = viewer.person_id is not None and viewer.person_id == uc.submitter.id
    decider = viewer.is_reviewer or viewer.is_lead
    undecided = uc.review is not None and uc.review.decision is None
    actions: list[Action] = []
    if undecided and decider:
        if not owner:  # a submitter never decides on their own use case
            actions += DECISIONS
        actions.append(Action.PICK_REVIEWER if uc.reviewer is None else Action.REASSIGN)
    closed = uc.stage is Stage.CLOSED
    waiting = undecided and uc.status is Status.IN_REVIEW and not closed
    if owner and uc.status is Status.CHANGES_REQUESTED:
        actions.append(Action.EDIT_RESUBMIT)  # an edit now goes back to the reviewer who asked for it
    elif owner or viewer.is_lead:
        actions.append(Action.EDIT)
    if owner and waiting:
        actions.append(Action.WITHDRAW)  # rather than Close: it takes it out of review
    elif (owner or viewer.is_lead) and Stage.CLOSED in allowed_moves(uc.stage, uc.status):
        actions.append(Action.CLOSE)
    if viewer.is_lead and can_reopen(uc.stage, uc.status):
        actions.append(Action.REOPEN)
    if (owner or viewer.is_lead) and allowed_moves(uc.stage, uc.status):
        actions.append(Action.MOVE_STAGE)
    return tuple(actions)


def card_actions(uc: UseCaseView, viewer: Viewer) -> tuple[Action, ...]:
    """What `viewer` may do with `uc` from a review card, a DM or the Home tab: no editing or closing there."""
    return tuple(a for a in available_actions(uc, viewer) if a not in MANAGING)


def audience(notice: Notice) -> Viewer:
    """Who a notice is addressed to, as far as what they may click on it goes."""
    if isinstance(notice, Outcome):
        return Viewer.of(notice.use_case.submitter)  # a DM to the submitter
    if isinstance(notice, ReviewNudge) and not notice.escalation and notice.use_case.reviewer is not None:
        return Viewer.of(notice.use_case.reviewer)  # a reminder in the reviewer's DM
    if isinstance(notice, ReviewCard | ReviewNudge):
        return HUB_AUDIENCE  # the hub channel (and the same card in the reviewer's DM)
    return STRANGER  # receipts, self-serve notices, refusals and bus-factor notices offer no actions


def notice_actions(notice: Notice) -> tuple[Action, ...]:
    """The actions a notice offers its audience."""
    if isinstance(notice, ReviewCard | ReviewNudge | Outcome):
        return card_actions(notice.use_case, audience(notice))
    if isinstance(notice, RetroPrompt):
        return (Action.WRITE_RETRO,)  # to its owner, who may write it (or a lead, who checks it on the click)
    if isinstance(notice, ShowcaseInvitation):
        return ON_INVITATION
    if isinstance(notice, DraftReady):
        return (Action.OPEN_DRAFT,)
    return ()
