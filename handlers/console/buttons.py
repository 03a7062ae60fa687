"""Button clicks: a number typed at the prompt clicks that button on the last card, as the current person."""

from __future__ import annotations

from handlers.console.forms import fill_intake
from handlers.console.people import console_key, console_ref
from handlers.console.render import Button, quoted
from handlers.console.replies import render_submitted
from handlers.console.session import Cancelled, ConsoleSession
from intake import decisions, hub, people, queries, submission
from intake.actions import DECIDER_ACTIONS, Action
from intake.errors import FieldErrors, HubError, NotAllowed
from intake.forms import REASON_PROMPTS, Draft
from intake.people import CONSOLE
from intake.read_models import Actor
from intake.schema import Decision

REVIEWERS_ONLY = "Only hub reviewers can decide on use cases. A hub lead can add you with /hub reviewer add."
NOT_A_REVIEWER = "That person is not a hub reviewer (a lead adds them with /hub reviewer add)."
REASONED = {Action.REJECT: Decision.REJECT, Action.REQUEST_CHANGES: Decision.REQUEST_CHANGES}


def decide_with_reason(session: ConsoleSession, actor: Actor, button: Button, decision: Decision) -> None:
    """Ask why (reject and request changes need a reason), then record the decision."""
    uc = session.core.read(queries.get_use_case, button.use_case_id)
    verb = "Reject" if decision is Decision.REJECT else "Request changes on"
    session.reply(f"{verb} #{uc.id} {uc.title}: the submitter sees your reason in their DM. /cancel stops.")
    error = None
    while True:
        if error:
            session.screen.write(f"  ! {error}")
        reason = session.ask(f"{REASON_PROMPTS[decision]} ")
        try:
            session.core.run(decisions.decide, actor, uc.id, decision, reason=reason, round_=button.round)
            return
        except FieldErrors as exc:
            error = next(iter(exc.errors.values()))


def assign(session: ConsoleSession, actor: Actor, button: Button, *, with_note: bool) -> None:
    """Ask which reviewer should take the review (and a note for them), then hand it over."""
    uc = session.core.read(queries.get_use_case, button.use_case_id)
    reviewers = session.core.read(hub.list_reviewers)
    names = ", ".join(f"@{p.handle(CONSOLE) or console_key(p.name)}" + (" (away)" if p.away else "") for p in reviewers)
    verb = "Reassign" if with_note else "Pick a reviewer for"
    session.reply(f"{verb} #{uc.id} {uc.title}. Reviewers: {names or 'none yet'}. /cancel stops.")
    error, note = None, None
    while True:
        if error:
            session.screen.write(f"  ! {error}")
        typed = session.ask("New reviewer (e.g. @rita): ")
        person_id = session.core.read(people.person_id_for, console_ref(typed)) if typed else None
        if person_id is None or person_id not in {p.id for p in reviewers}:
            error = NOT_A_REVIEWER
            continue
        if with_note and note is None:
            note = session.ask("Note for them (optional): ")
        try:
            session.core.run(decisions.assign_reviewer, actor, uc.id, person_id, note=note)
            return
        except FieldErrors as exc:
            error = next(iter(exc.errors.values()))


def edit_and_resubmit(session: ConsoleSession, actor: Actor, button: Button) -> None:
    """The intake form pre-filled with the use case, for its submitter to edit and resubmit."""
    uc = session.core.read(submission.use_case_to_edit, actor, button.use_case_id)
    reviewer = uc.review.decided_by.name if uc.review and uc.review.decided_by else "The reviewer"
    note = [f"{reviewer} asked for changes:", *quoted(uc.review.reason if uc.review else "")]
    result = fill_intake(
        session,
        Draft.of(uc.submission()),
        lambda sub: session.core.run(submission.resubmit_use_case, actor, uc.id, sub),
        heading=f"Edit use case #{uc.id}",
        note=note,
    )
    if result is not None:
        session.reply(render_submitted(result))


def click(session: ConsoleSession, number: int) -> None:
    """Click the numbered button on the most recently shown card."""
    buttons = session.screen.buttons
    if not buttons:
        raise HubError("Nothing to click: numbers pick a button on the last card shown.")
    if not 1 <= number <= len(buttons):
        raise HubError(f"Pick 1 to {len(buttons)}.")
    button = buttons[number - 1]
    actor = session.me()
    if button.action in DECIDER_ACTIONS and not actor.can_decide:
        raise NotAllowed(REVIEWERS_ONLY)
    try:
        if button.action is Action.APPROVE:
            session.core.run(decisions.decide, actor, button.use_case_id, Decision.APPROVE, round_=button.round)
        elif button.action in REASONED:
            decide_with_reason(session, actor, button, REASONED[button.action])
        elif button.action in (Action.REASSIGN, Action.PICK_REVIEWER):
            assign(session, actor, button, with_note=button.action is Action.REASSIGN)
        elif button.action is Action.EDIT_RESUBMIT:
            edit_and_resubmit(session, actor, button)
    except Cancelled:
        session.reply("Nothing recorded.")
