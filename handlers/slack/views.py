"""Modal submissions: intake, resubmission, decision reasons, reassignment."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

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
    """Run the service; on failure answer in the modal itself (field errors beside their field)."""
    try:
        return work()
    except FieldErrors as exc:
        ack(response_action="errors", errors=_field_errors(exc, field))
    except Exception as exc:  # HubError in its own words; anything else with a log reference
        ack(response_action="update", view=_message_view(title, error_text(exc)))
    return None


def _use_case_id(ctx: ModalContext) -> int:
    if ctx.use_case_id is None:
        raise HubError("This form is out of date. Please open it again from the card or with /usecase.")
    return ctx.use_case_id


def handle_intake_submission(ack: Callable[..., None], view: dict[str, Any], context: BoltContext) -> None:
    """Validate the form, save the use case, and turn the modal into where it went and why."""
    core: Core = context["core"]
    actor: Actor = context["actor"]
    sub, errors = parse_intake(view["state"]["values"])
    if sub is None:
        ack(response_action="errors", errors=errors)
        return
    ctx = ModalContext.load(view.get("private_metadata"))
    if view["callback_id"] == View.RESUBMIT:
        result = _attempt(
            ack, "Not saved", Block.TITLE, lambda: core.run(services.resubmit_use_case, actor, _use_case_id(ctx), sub)
        )
    else:
        result = _attempt(ack, "Not saved", Block.TITLE, lambda: core.run(services.submit_use_case, actor, sub))
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
            services.decide,
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
        person_id = core.read(hub.person_id_for_slack, value_of(values, Block.REVIEWER) or "")
        if person_id is None:
            raise FieldErrors({"reviewer": hub.NOT_A_REVIEWER})
        return core.run(
            services.assign_reviewer, context["actor"], _use_case_id(ctx), person_id, note=value_of(values, Block.NOTE)
        )

    if _attempt(ack, "Not reassigned", Block.REVIEWER, assign) is not None:
        ack()


def register(app: App, middleware: list[Any]) -> None:
    app.view(View.INTAKE, middleware=middleware)(handle_intake_submission)
    app.view(View.RESUBMIT, middleware=middleware)(handle_intake_submission)
    app.view(View.REASON, middleware=middleware)(handle_reason_submission)
    app.view(View.REASSIGN, middleware=middleware)(handle_reassign_submission)
