"""Button clicks: a number typed at the prompt clicks that button on the last card, as the current person."""

from __future__ import annotations

from bot.conversation.answers import answer_duplicate, ask_reason, carry_out
from handlers.console import rituals
from handlers.console.admin import render
from handlers.console.people import console_key, console_ref
from handlers.console.render import Button, render_refusal
from handlers.console.session import Cancelled, ConsoleSession
from handlers.console.usecase import YES, ask_why, edit, submit
from intake import decisions, drafting, editing, people, queries, retros
from intake.actions import DECIDER_ACTIONS, ON_DUPLICATE, ON_INVITATION, Action
from intake.decisions import REVIEWERS_ONLY
from intake.errors import FieldErrors, HeldByAnother, HubError, NotAllowed
from intake.forms import NO_ONE_ELSE, REASON_PROMPTS, withdraw_confirm
from intake.notices import Refusal
from intake.people import CONSOLE
from intake.read_models import Actor
from intake.schema import Decision

NOT_A_REVIEWER = "That person is not a hub reviewer (a lead adds them with /hub reviewer add)."
REASONED = {Action.REJECT: Decision.REJECT, Action.REQUEST_CHANGES: Decision.REQUEST_CHANGES}


def decide_with_reason(session: ConsoleSession, actor: Actor, button: Button, decision: Decision) -> None:
    """Ask why (reject and request changes need a reason), then record the decision."""
    session.core.read(decisions.check_holder, actor, button.use_case_id)  # before a reason is typed
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
    """Offer the reviewers who can take the review, ask which (and then a note for them), and hand it over."""
    uc = session.core.read(queries.get_use_case, button.use_case_id)
    reviewers = session.core.read(decisions.reviewers_for, uc.id)
    verb = "Reassign" if with_note else "Pick a reviewer for"
    if not reviewers:
        session.reply(f"{verb} #{uc.id} {uc.title}: {NO_ONE_ELSE}")
        return
    names = ", ".join(f"@{p.handle(CONSOLE) or console_key(p.name)} ({p.open_reviews or 0} open)" for p in reviewers)
    session.reply(f"{verb} #{uc.id} {uc.title}. Who can take it: {names}. /cancel stops.")
    error = None
    while True:
        if error:
            session.screen.write(f"  ! {error}")
        typed = session.ask("New reviewer (e.g. @rita): ")
        person_id = session.core.read(people.person_id_for, console_ref(typed)) if typed else None
        if person_id is None:
            error = NOT_A_REVIEWER
            continue
        try:
            session.core.read(decisions.check_pick, uc.id, person_id)  # before a note is written for them
        except FieldErrors as exc:
            error = next(iter(exc.errors.values()))
            continue
        note = session.ask("Note for them (optional): ") if with_note else None
        try:
            session.core.run(decisions.assign_reviewer, actor, uc.id, person_id, note=note)
            return
        except FieldErrors as exc:
            error = next(iter(exc.errors.values()))  # the note goes with the refused pick: asked again next time


def edit_use_case(session: ConsoleSession, actor: Actor, button: Button) -> None:
    """The intake form pre-filled with the use case: an edit, or a resubmission after changes were asked."""
    edit(session, session.core.read(editing.use_case_for_edit, actor, button.use_case_id))


def withdraw(session: ConsoleSession, actor: Actor, button: Button) -> None:
    """Take one's own use case out of review, once they confirm."""
    uc = session.core.read(queries.get_use_case, button.use_case_id)
    asked = withdraw_confirm(uc.id, uc.title, uc.reviewer.name if uc.reviewer else None)
    if session.ask(f"{asked} [y/N] ").casefold() not in YES:
        session.reply("Nothing changed.")
        return
    session.reply(render(carry_out(session.core, actor, Action.WITHDRAW, uc.id, None), session.zone()))


def answer_about(session: ConsoleSession, actor: Actor, button: Button, other: int) -> None:
    """Same or Related is recorded at once; Different… asks why (until there is an answer, or /cancel)."""
    error, reason = None, None
    while True:
        if button.action is Action.DIFFERENT:
            if error:
                session.screen.write(f"  ! {error}")
            reason = session.ask(f"What makes #{button.use_case_id} different from #{other}? ")
        try:
            said = answer_duplicate(session.core, actor, button.action, button.use_case_id, other, reason)
        except FieldErrors as exc:
            error = next(iter(exc.errors.values()))
            continue
        session.reply(render(said, session.zone()))
        return


def click(session: ConsoleSession, number: int) -> None:
    """Click the numbered button on the most recently shown card."""
    buttons = session.screen.buttons
    if not buttons:
        raise HubError("Nothing to click: numbers pick a button on the last card shown.")
    if not 1 <= number <= len(buttons):
        raise HubError(f"Pick 1 to {len(buttons)}.")
    button = buttons[number - 1]
    actor = session.me()
    if button.action in (*DECIDER_ACTIONS, Action.TAKE_OVER) and not actor.can_decide:
        raise NotAllowed(REVIEWERS_ONLY)
    try:
        if button.action is Action.APPROVE:
            session.core.run(decisions.decide, actor, button.use_case_id, Decision.APPROVE, round_=button.round)
        elif button.action in REASONED:
            decide_with_reason(session, actor, button, REASONED[button.action])
        elif button.action in (Action.REASSIGN, Action.PICK_REVIEWER):
            assign(session, actor, button, with_note=button.action is Action.REASSIGN)
        elif button.action in (Action.EDIT_RESUBMIT, Action.EDIT):
            edit_use_case(session, actor, button)
        elif button.action in (Action.CLOSE, Action.REOPEN):
            ask_why(session, ask_reason(session.core, actor, button.action, button.use_case_id))
        elif button.action is Action.WITHDRAW:
            withdraw(session, actor, button)
        elif button.action in ON_DUPLICATE and button.other is not None:
            answer_about(session, actor, button, button.other)
        elif button.action is Action.TAKE_OVER:
            session.core.run(decisions.assign_reviewer, actor, button.use_case_id, actor.person_id)
        elif button.action is Action.WRITE_RETRO:
            rituals.write_retro(session, session.core.read(retros.open_retro, actor, button.use_case_id))
        elif button.action in ON_INVITATION:
            rituals.answer_invitation(session, button)
        elif button.action is Action.OPEN_DRAFT and button.other is not None:
            draft, questions = session.core.read(drafting.load_draft, actor, button.other)
            submit(session, draft, questions)
    except Cancelled:
        session.reply("Nothing recorded.")
    except HeldByAnother as exc:  # offered as a button, as Slack does
        session.reply(render_refusal(Refusal(text=exc.message, take_over=(exc.use_case_id, exc.round)), session.zone()))
