"""Button clicks: decide, reassign, pick a reviewer, edit (and resubmit), close, reopen, withdraw, new use case."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltContext
from slack_sdk import WebClient

from bot import tasks
from bot.conversation import ritual_answers
from bot.conversation.answers import Said, answer_duplicate, ask_reason, carry_out
from bot.core import Core
from bot.tasks import ReplyTo
from handlers.slack.chat import render as render_notice
from handlers.slack.commands import open_edit, open_intake, open_reason_form, render
from handlers.slack.ids import Action
from handlers.slack.middleware import error_text, reviewers_only, tell, telling_errors
from handlers.slack.modals import (
    Draft,
    ModalContext,
    build_different_modal,
    build_reason_modal,
    build_reassign_modal,
    build_retro_modal,
)
from handlers.slack.mrkdwn import escape
from handlers.slack.people import slack_ref
from intake import decisions, drafting, editing, hub, people, queries, retros
from intake.actions import Action as Act
from intake.errors import HeldByAnother, HubError
from intake.notices import Refusal
from intake.read_models import Actor
from intake.schema import Decision


def _card_value(action: dict[str, Any]) -> tuple[int, int]:
    use_case_id, _, round_ = str(action.get("value", "")).partition(":")
    if not (use_case_id.isascii() and use_case_id.isdigit() and len(use_case_id) <= 9):
        raise HubError("This button does not name a use case; open it with `/usecase status ID`.")
    ok_round = round_.isascii() and round_.isdigit() and len(round_) <= 6
    return int(use_case_id), int(round_) if ok_round else 1


def _pair_value(action: dict[str, Any]) -> tuple[int, int]:
    """`12:3`: a use case and the likely duplicate a button answers about."""
    first, _, second = str(action.get("value", "")).partition(":")
    if not all(p.isascii() and p.isdigit() and len(p) <= 9 for p in (first, second)):
        raise HubError("This button does not name two use cases; answer with `/usecase status ID`.")
    return int(first), int(second)


def _card_value_from_block(body: dict[str, Any]) -> tuple[int, int]:
    """For the reviewer picker (a select has no value): read the ids from the card's actions block."""
    message = body.get("message")
    blocks = message.get("blocks") if isinstance(message, dict) else None
    for block in blocks if isinstance(blocks, list) else []:
        block_id = str(block.get("block_id", "")) if isinstance(block, dict) else ""
        if block_id.startswith("review:"):
            return _card_value({"value": block_id.removeprefix("review:")})
    raise HubError("This card is missing its use case; open it with `/usecase status ID`.")


def reply_to(respond: Any) -> ReplyTo | None:
    """Where the outcome of a click is told privately: its response_url."""
    url = getattr(respond, "response_url", None)
    return ReplyTo(platform="slack", address=url) if isinstance(url, str) and url else None


def record_then_ack(
    ack: Callable[..., None], respond: Any, context: BoltContext, client: WebClient, work: Callable[[], object]
) -> None:
    """Record the click as durable work, then acknowledge: a click Slack shows as received is committed.

    A click that cannot even be recorded (a card without its use case) is acknowledged and told why;
    anything else (the database) propagates unacknowledged, so Slack shows the click failed and the
    global error handler tells the person.
    """
    try:
        work()
    except HubError as exc:
        ack()
        tell(error_text(exc), respond, context, client)
        return
    ack()


def record_ack_and_tell(
    ack: Callable[..., None], respond: Any, context: BoltContext, client: WebClient, work: Callable[[], Said]
) -> None:
    """`record_then_ack` for a click carried out in the request (committed before the ack), then what came of it."""
    done: list[Said] = []
    record_then_ack(ack, respond, context, client, lambda: done.append(work()))
    if done:
        tell(render(done[0]), respond, context, client)


def handle_approve(
    ack: Callable[..., None], action: dict[str, Any], context: BoltContext, respond: Any, client: WebClient
) -> None:
    """Approve the use case on the card: recorded before the ack, decided by a worker, the card updated everywhere."""
    core: Core = context["core"]

    def approve() -> None:
        use_case_id, round_ = _card_value(action)
        core.run(
            tasks.request_decision,
            context["actor"],
            use_case_id,
            Decision.APPROVE,
            round_=round_,
            reply_to=reply_to(respond),
        )

    record_then_ack(ack, respond, context, client, approve)


def handle_reason_decision(
    ack: Callable[..., None],
    action: dict[str, Any],
    body: dict[str, Any],
    context: BoltContext,
    respond: Any,
    client: WebClient,
) -> None:
    """Open the reason form for reject or request changes (the decision needs a reason)."""
    ack()
    with telling_errors(respond, context, client):
        use_case_id, round_ = _card_value(action)
        decision = Decision.REJECT if action["action_id"] == Action.REJECT else Decision.REQUEST_CHANGES
        try:  # before a reason is typed: someone else holds it
            context["core"].read(decisions.check_holder, context["actor"], use_case_id)
        except HeldByAnother as exc:
            offer_take_over(exc, respond, context, client)
            return
        uc = context["core"].read(queries.get_use_case, use_case_id)
        view = build_reason_modal(decision, use_case_id, round_, uc.title)
        client.views_open(trigger_id=body["trigger_id"], view=view)


def handle_reassign(
    ack: Callable[..., None],
    action: dict[str, Any],
    body: dict[str, Any],
    context: BoltContext,
    respond: Any,
    client: WebClient,
) -> None:
    """Open the reassign form."""
    ack()
    with telling_errors(respond, context, client):
        use_case_id, round_ = _card_value(action)
        core: Core = context["core"]
        uc = core.read(queries.get_use_case, use_case_id)
        able = core.read(decisions.reviewers_for, use_case_id)  # only those who can take it are offered
        client.views_open(trigger_id=body["trigger_id"], view=build_reassign_modal(use_case_id, round_, uc.title, able))


def offer_take_over(exc: HeldByAnother, respond: Any, context: BoltContext, client: WebClient) -> None:
    """Why the click changed nothing, with a Take it over button, only to the person who clicked."""
    text, drawn = render_notice(Refusal(text=exc.message, take_over=(exc.use_case_id, exc.round)))
    if respond is not None and getattr(respond, "response_url", None):
        respond(text=text, blocks=drawn, response_type="ephemeral", replace_original=False)
    else:
        tell(text, respond, context, client)


def handle_take_over(
    ack: Callable[..., None], action: dict[str, Any], context: BoltContext, respond: Any, client: WebClient
) -> None:
    """Reassign the review to the reviewer who clicked (durably, before the ack); they decide on their new card."""
    core: Core = context["core"]
    actor: Actor = context["actor"]

    def take_over() -> None:
        use_case_id, _ = _card_value(action)
        core.run(tasks.request_assignment, actor, use_case_id, actor.person_id, reply_to=reply_to(respond))

    record_then_ack(ack, respond, context, client, take_over)


def handle_duplicate_answer(
    ack: Callable[..., None],
    action: dict[str, Any],
    body: dict[str, Any],
    context: BoltContext,
    respond: Any,
    client: WebClient,
) -> None:
    """Same or Related is recorded before the ack (and told); Different… asks why first."""
    core: Core = context["core"]
    wanted = {Action.SAME_AS: Act.SAME_AS, Action.RELATED: Act.RELATED}.get(Action(action["action_id"]))
    if wanted is None:
        ack()
        with telling_errors(respond, context, client):
            use_case_id, other_id = _pair_value(action)
            ctx = ModalContext(use_case_id=use_case_id, round=other_id)  # the other use case rides in `round`
            client.views_open(trigger_id=body["trigger_id"], view=build_different_modal(ctx, other_id))
        return

    def record() -> Said:
        use_case_id, other_id = _pair_value(action)
        return answer_duplicate(core, context["actor"], wanted, use_case_id, other_id)

    record_ack_and_tell(ack, respond, context, client, record)


def handle_pick_reviewer(
    ack: Callable[..., None],
    action: dict[str, Any],
    body: dict[str, Any],
    context: BoltContext,
    respond: Any,
    client: WebClient,
) -> None:
    """Assign the reviewer picked on a card that routing could not assign."""
    core: Core = context["core"]

    def assign() -> None:
        use_case_id, _ = _card_value_from_block(body)
        person_id = core.read(people.person_id_for, slack_ref(str(action.get("selected_user") or "")))
        if person_id is None:
            raise HubError(hub.NOT_A_REVIEWER)
        core.run(tasks.request_assignment, context["actor"], use_case_id, person_id, reply_to=reply_to(respond))

    record_then_ack(ack, respond, context, client, assign)


def handle_edit(
    ack: Callable[..., None],
    action: dict[str, Any],
    body: dict[str, Any],
    context: BoltContext,
    respond: Any,
    client: WebClient,
) -> None:
    """Open the intake form pre-filled with the use case: to edit it, or to resubmit it after changes were asked."""
    ack()
    core: Core = context["core"]
    with telling_errors(respond, context, client):
        use_case_id, _ = _card_value(action)
        target = core.read(editing.use_case_for_edit, context["actor"], use_case_id)
        open_edit(core, client, body["trigger_id"], target)


def handle_close_or_reopen(
    ack: Callable[..., None],
    action: dict[str, Any],
    body: dict[str, Any],
    context: BoltContext,
    respond: Any,
    client: WebClient,
) -> None:
    """Ask why (the form's submit button confirms it): a refusal is told before anything is typed."""
    ack()
    with telling_errors(respond, context, client):
        use_case_id, round_ = _card_value(action)
        wanted = Act.CLOSE if action["action_id"] == Action.CLOSE else Act.REOPEN
        asked = ask_reason(context["core"], context["actor"], wanted, use_case_id)
        open_reason_form(client, body["trigger_id"], asked, round_)


def handle_withdraw(
    ack: Callable[..., None], action: dict[str, Any], context: BoltContext, respond: Any, client: WebClient
) -> None:
    """Take one's own use case out of review (Slack's confirm dialog asked first); committed before the ack."""

    def withdraw() -> Said:
        use_case_id, _ = _card_value(action)
        return carry_out(context["core"], context["actor"], Act.WITHDRAW, use_case_id, None)

    record_ack_and_tell(ack, respond, context, client, withdraw)


def handle_new_use_case(
    ack: Callable[..., None], body: dict[str, Any], context: BoltContext, respond: Any, client: WebClient
) -> None:
    """Open an empty intake form from the Home tab."""
    ack()
    with telling_errors(respond, context, client):
        open_intake(context["core"], client, body["trigger_id"], Draft(), ModalContext())


def handle_write_retro(
    ack: Callable[..., None],
    action: dict[str, Any],
    body: dict[str, Any],
    context: BoltContext,
    respond: Any,
    client: WebClient,
) -> None:
    """Open the retro form from a retro prompt (nothing is stored until it is saved)."""
    ack()
    with telling_errors(respond, context, client):
        use_case_id, _ = _card_value(action)
        form = context["core"].read(retros.open_retro, context["actor"], use_case_id)
        client.views_open(trigger_id=body["trigger_id"], view=build_retro_modal(form))


def _invite_id(action: dict[str, Any], body: dict[str, Any]) -> int:
    """The invitation a button (its value) or the colleague picker (its block id) belongs to."""
    raw = str(action.get("value") or "") or str(action.get("block_id") or "").rpartition(":")[2]
    if not raw.isdigit():
        raise HubError("This invitation is out of date: ask a hub lead to invite you again.")
    return int(raw)


def handle_invitation_answer(
    ack: Callable[..., None],
    action: dict[str, Any],
    body: dict[str, Any],
    context: BoltContext,
    respond: Any,
    client: WebClient,
) -> None:
    """Yes / Not this time, or the colleague picked to present instead; recorded before the ack, then told."""
    core: Core = context["core"]

    def record() -> Said:
        invite_id = _invite_id(action, body)
        if action["action_id"] == Action.NOMINATE:
            colleague = slack_ref(str(action.get("selected_user") or ""))
            return ritual_answers.nominate(core, context["actor"], invite_id, colleague)
        return ritual_answers.answer_invitation(
            core, context["actor"], invite_id, action["action_id"] == Action.PRESENT
        )

    record_ack_and_tell(ack, respond, context, client, record)


def handle_open_draft(
    ack: Callable[..., None],
    action: dict[str, Any],
    body: dict[str, Any],
    context: BoltContext,
    respond: Any,
    client: WebClient,
) -> None:
    """Open the intake form filled in from what the person wrote, to check and submit."""
    ack()
    with telling_errors(respond, context, client):
        raw = str(action.get("value") or "")
        if not raw.isdigit():
            raise HubError("This draft is out of date: type /usecase and your idea again.")
        core: Core = context["core"]
        draft, questions = core.read(drafting.load_draft, context["actor"], int(raw))
        note = ("*Worth adding:* " + " · ".join(escape(q) for q in questions)) if questions else None
        open_intake(core, client, body["trigger_id"], draft, ModalContext(), note=note)


def register(app: App, middleware: list[Any]) -> None:
    deciders = [*middleware, reviewers_only]
    app.action(Action.APPROVE, middleware=deciders)(handle_approve)
    app.action(Action.REJECT, middleware=deciders)(handle_reason_decision)
    app.action(Action.REQUEST_CHANGES, middleware=deciders)(handle_reason_decision)
    app.action(Action.REASSIGN, middleware=deciders)(handle_reassign)
    app.action(Action.PICK_REVIEWER, middleware=deciders)(handle_pick_reviewer)
    app.action(Action.TAKE_OVER, middleware=deciders)(handle_take_over)
    for answer_id in (Action.SAME_AS, Action.RELATED, Action.DIFFERENT):
        app.action(answer_id, middleware=middleware)(handle_duplicate_answer)
    app.action(Action.EDIT_RESUBMIT, middleware=middleware)(handle_edit)
    app.action(Action.EDIT, middleware=middleware)(handle_edit)
    app.action(Action.CLOSE, middleware=middleware)(handle_close_or_reopen)
    app.action(Action.REOPEN, middleware=middleware)(handle_close_or_reopen)
    app.action(Action.WITHDRAW, middleware=middleware)(handle_withdraw)
    app.action(Action.NEW_USE_CASE, middleware=middleware)(handle_new_use_case)
    app.action(Action.WRITE_RETRO, middleware=middleware)(handle_write_retro)
    app.action(Action.OPEN_DRAFT, middleware=middleware)(handle_open_draft)
    for answer_id in (Action.PRESENT, Action.NOT_THIS_TIME, Action.NOMINATE):
        app.action(answer_id, middleware=middleware)(handle_invitation_answer)
