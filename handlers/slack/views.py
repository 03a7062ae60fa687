"""Modal submissions: intake, edits and resubmissions, decision reasons, reassignment, closing and reopening."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any, TypeVar

from slack_bolt import App, BoltContext

from bot.conversation.answers import answer_duplicate, carry_out
from bot.conversation.ritual_answers import save_retro
from bot.core import Core
from handlers.slack.blocks import section
from handlers.slack.commands import render
from handlers.slack.ids import Block, View
from handlers.slack.middleware import error_text, is_unavailable, log_error
from handlers.slack.modals import ModalContext, build_submitted_view, parse_intake, parse_retro_state, value_of
from handlers.slack.people import slack_ref
from intake import decisions, editing, people, retros, submission
from intake.actions import Action
from intake.errors import FieldErrors, HubError
from intake.read_models import Actor
from intake.schema import Decision

T = TypeVar("T")


def _message_view(title: str, text: str) -> dict[str, Any]:
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": title},
        "close": {"type": "plain_text", "text": "Close"},
        "blocks": [section(text)],
    }


def _field_errors(exc: FieldErrors, default: str) -> dict[str, str]:
    known = {b.value for b in Block}
    return {(k if k in known else default): v for k, v in exc.errors.items()}


def _attempt(ack: Callable[..., None], title: str, field: Block, work: Callable[[], T]) -> T | None:
    """Run the service; on failure answer in the modal itself.

    Field errors go beside their field; a refusal replaces the form with the reason; anything else
    (the database, a bug) keeps the form open with everything typed in it and says it was not saved.
    """
    try:
        return work()
    except FieldErrors as exc:
        ack(response_action="errors", errors=_field_errors(exc, field))
    except HubError as exc:
        ack(response_action="update", view=_message_view(title, error_text(exc)))
    except Exception as exc:
        ack(response_action="errors", errors={field: not_saved(exc)})
    return None


def not_saved(error: BaseException) -> str:
    """The plain-text line shown on the form when it could not be saved (modal errors are not mrkdwn)."""
    ref = log_error(error)
    cause = "the hub could not reach its database" if is_unavailable(error) else "something went wrong on our side"
    return f"Not saved: {cause} (ref {ref}). Everything you typed is still here: press the button again in a minute."


def request_key(view: dict[str, Any]) -> str | None:
    """One modal submission's identity (its view id and hash): a replay of it carries out nothing new."""
    view_id, view_hash = view.get("id"), view.get("hash")
    if not isinstance(view_id, str) or not isinstance(view_hash, str) or not view_id:
        return None
    return "slack-view:" + hashlib.sha256(f"{view_id}:{view_hash}".encode()).hexdigest()[:52]


def _use_case_id(ctx: ModalContext) -> int:
    if ctx.use_case_id is None:
        raise HubError("This form is out of date. Please open it again from the card or with /usecase.")
    return ctx.use_case_id


def handle_intake_submission(ack: Callable[..., None], view: dict[str, Any], context: BoltContext) -> None:
    """Validate the form, save the use case, and turn the modal into where it went and why."""
    core: Core = context["core"]
    actor: Actor = context["actor"]
    # The hub's departments are the select's options, so the service (not a cached list) judges the department.
    sub, errors = parse_intake(view["state"]["values"], today=core.now().date())
    if sub is None:
        ack(response_action="errors", errors=errors)
        return
    ctx = ModalContext.load(view.get("private_metadata"))
    key = request_key(view)
    if view["callback_id"] == View.RESUBMIT:
        result = _attempt(
            ack,
            "Not saved",
            Block.TITLE,
            lambda: core.run(submission.resubmit_use_case, actor, _use_case_id(ctx), sub, request_key=key),
        )
    elif view["callback_id"] == View.EDIT:
        result = _attempt(
            ack,
            "Not saved",
            Block.TITLE,
            lambda: core.run(editing.edit_use_case, actor, _use_case_id(ctx), sub, request_key=key),
        )
    else:
        result = _attempt(
            ack, "Not saved", Block.TITLE, lambda: core.run(submission.submit_use_case, actor, sub, request_key=key)
        )
    if result is not None:
        ack(response_action="update", view=build_submitted_view(result))


def handle_reason_submission(ack: Callable[..., None], view: dict[str, Any], context: BoltContext) -> None:
    """Record a reject or request-changes decision with its reason."""
    ctx = ModalContext.load(view.get("private_metadata"))
    reason = value_of(view["state"]["values"], Block.REASON)

    def decide() -> object:
        if ctx.decision is None:
            raise HubError("This form is out of date. Please click the button on the card again.")
        return context["core"].run(
            decisions.decide,
            context["actor"],
            _use_case_id(ctx),
            Decision(ctx.decision),
            reason=reason,
            round_=ctx.round,
        )

    if _attempt(ack, "Not recorded", Block.REASON, decide) is not None:
        ack()


def handle_reassign_submission(ack: Callable[..., None], view: dict[str, Any], context: BoltContext) -> None:
    """Hand the review to the chosen reviewer."""
    core: Core = context["core"]
    ctx = ModalContext.load(view.get("private_metadata"))
    values = view["state"]["values"]

    def assign() -> object:
        # The picker offers the reviewers who can take it, by person id; a form opened before it (a users_select)
        # names a Slack user. Anything else is nobody, and the core says so after checking the clicker's role.
        picked = str(value_of(values, Block.REVIEWER) or "")
        if picked.isascii() and picked.isdigit() and len(picked) <= 9:
            person_id: int | None = int(picked)
        else:
            person_id = core.read(people.person_id_for, slack_ref(picked)) if picked else None
        person_id = person_id or 0
        return core.run(
            decisions.assign_reviewer, context["actor"], _use_case_id(ctx), person_id, note=value_of(values, Block.NOTE)
        )

    if _attempt(ack, "Not reassigned", Block.REVIEWER, assign) is not None:
        ack()


ENDINGS = {View.CLOSE: (Action.CLOSE, "Not closed"), View.REOPEN: (Action.REOPEN, "Not reopened")}


def handle_reason_form_submission(ack: Callable[..., None], view: dict[str, Any], context: BoltContext) -> None:
    """Close or reopen with the reason typed (its submit button confirmed it); the modal says what came of it."""
    action, refused = ENDINGS[View(view["callback_id"])]
    ctx = ModalContext.load(view.get("private_metadata"))
    reason = value_of(view["state"]["values"], Block.REASON)
    said = _attempt(
        ack,
        refused,
        Block.REASON,
        lambda: carry_out(context["core"], context["actor"], action, _use_case_id(ctx), reason),
    )
    if said is not None:
        done = "Closed" if action is Action.CLOSE else "Reopened"
        ack(response_action="update", view=_message_view(done, render(said)))


def handle_different_submission(ack: Callable[..., None], view: dict[str, Any], context: BoltContext) -> None:
    """Record why a likely duplicate is different; the modal says it is noted."""
    ctx = ModalContext.load(view.get("private_metadata"))
    reason = value_of(view["state"]["values"], Block.REASON)

    def record() -> Any:
        other_id = ctx.round
        if other_id is None:
            raise HubError("This form is out of date. Please click Different… on the receipt again.")
        return answer_duplicate(
            context["core"], context["actor"], Action.DIFFERENT, _use_case_id(ctx), other_id, reason
        )

    said = _attempt(ack, "Not saved", Block.REASON, record)
    if said is not None:
        ack(response_action="update", view=_message_view("Noted", render(said)))


def handle_retro_submission(ack: Callable[..., None], view: dict[str, Any], context: BoltContext) -> None:
    """Save a retro: each answer the form refuses is told beside its question; the modal thanks the writer."""
    ctx = ModalContext.load(view.get("private_metadata"))

    def save() -> Any:
        use_case_id = _use_case_id(ctx)
        answers = parse_retro_state(view["state"]["values"], retros.retro_fields(""))
        return save_retro(context["core"], context["actor"], use_case_id, retros.form_errors(answers))

    said = _attempt(ack, "Not saved", Block.WORKED, save)
    if said is not None:
        ack(response_action="update", view=_message_view("Retro saved", render(said)))


def register(app: App, middleware: list[Any]) -> None:
    app.view(View.INTAKE, middleware=middleware)(handle_intake_submission)
    app.view(View.RESUBMIT, middleware=middleware)(handle_intake_submission)
    app.view(View.EDIT, middleware=middleware)(handle_intake_submission)
    app.view(View.CLOSE, middleware=middleware)(handle_reason_form_submission)
    app.view(View.REOPEN, middleware=middleware)(handle_reason_form_submission)
    app.view(View.DIFFERENT, middleware=middleware)(handle_different_submission)
    app.view(View.RETRO, middleware=middleware)(handle_retro_submission)
    app.view(View.REASON, middleware=middleware)(handle_reason_submission)
    app.view(View.REASSIGN, middleware=middleware)(handle_reassign_submission)
