"""Modal submissions: intake, resubmission, decision reasons, reassignment."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltContext

from bot.core import Core
from handlers.slack.blocks import section
from handlers.slack.ids import Block, View
from handlers.slack.middleware import error_text
from handlers.slack.modals import ModalContext, build_submitted_view, parse_intake, value_of
from intake import hub, services
from intake.errors import FieldErrors, HubError
from intake.schema import Decision
from intake.views import Actor


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


def handle_intake_submission(ack: Callable[..., None], view: dict[str, Any], context: BoltContext) -> None:
    """Validate the form, save the use case, and turn the modal into where it went and why."""
    core: Core = context["core"]
    actor: Actor = context["actor"]
    sub, errors = parse_intake(view["state"]["values"])
    if sub is None:
        ack(response_action="errors", errors=errors)
        return
    ctx = ModalContext.load(view.get("private_metadata"))
    try:
        if view["callback_id"] == View.RESUBMIT:
            assert ctx.use_case_id is not None
            result = core.run(services.resubmit_use_case, actor, ctx.use_case_id, sub)
        else:
            result = core.run(services.submit_use_case, actor, sub)
    except FieldErrors as exc:
        ack(response_action="errors", errors=_field_errors(exc, Block.TITLE))
        return
    except HubError as exc:
        ack(response_action="update", view=_message_view("Not saved", error_text(exc)))
        return
    ack(response_action="update", view=build_submitted_view(result))


def handle_reason_submission(ack: Callable[..., None], view: dict[str, Any], context: BoltContext) -> None:
    """Record a reject or request-changes decision with its reason."""
    ctx = ModalContext.load(view.get("private_metadata"))
    assert ctx.use_case_id is not None and ctx.decision is not None
    reason = value_of(view["state"]["values"], Block.REASON)
    try:
        context["core"].run(
            services.decide, context["actor"], ctx.use_case_id, Decision(ctx.decision), reason=reason, round_=ctx.round
        )
    except FieldErrors as exc:
        ack(response_action="errors", errors=_field_errors(exc, Block.REASON))
        return
    except HubError as exc:
        ack(response_action="update", view=_message_view("Not recorded", error_text(exc)))
        return
    ack()


def handle_reassign_submission(ack: Callable[..., None], view: dict[str, Any], context: BoltContext) -> None:
    """Hand the review to the chosen reviewer."""
    core: Core = context["core"]
    ctx = ModalContext.load(view.get("private_metadata"))
    assert ctx.use_case_id is not None
    values = view["state"]["values"]
    person_id = core.read(hub.person_id_for_slack, value_of(values, Block.REVIEWER) or "")
    try:
        if person_id is None:
            raise FieldErrors({"reviewer": hub.NOT_A_REVIEWER})
        core.run(
            services.assign_reviewer, context["actor"], ctx.use_case_id, person_id, note=value_of(values, Block.NOTE)
        )
    except FieldErrors as exc:
        ack(response_action="errors", errors=_field_errors(exc, Block.REVIEWER))
        return
    except HubError as exc:
        ack(response_action="update", view=_message_view("Not reassigned", error_text(exc)))
        return
    ack()


def register(app: App, middleware: list[Any]) -> None:
    app.view(View.INTAKE, middleware=middleware)(handle_intake_submission)
    app.view(View.RESUBMIT, middleware=middleware)(handle_intake_submission)
    app.view(View.REASON, middleware=middleware)(handle_reason_submission)
    app.view(View.REASSIGN, middleware=middleware)(handle_reassign_submission)
