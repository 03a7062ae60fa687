"""Slash commands: `/usecase` (submit, list, status, stage) and `/hub` (administration).

What they mean and say is decided in bot.conversation; this module reads Slack's mentions and
draws the answers as Block Kit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltContext
from slack_sdk import WebClient

from bot.conversation import grammar as g
from bot.conversation.answers import (
    DRAFTING,
    Answer,
    AskReason,
    AskRetro,
    DraftLater,
    Form,
    PortfolioAnswer,
    Said,
    Status,
    UseCaseList,
    answer,
    helps,
)
from bot.core import Core
from bot.expertise.models import ExpertResult
from handlers.slack import blocks
from handlers.slack.experts import build_experts
from handlers.slack.ids import Command, View
from handlers.slack.middleware import error_text, telling_errors
from handlers.slack.modals import (
    ModalContext,
    build_intake_modal,
    build_reason_form_modal,
    build_retro_modal,
    changes_note,
)
from handlers.slack.mrkdwn import escape, mrkdwn
from handlers.slack.people import MENTION, slack_ref
from handlers.slack.portfolio import build_portfolio
from intake import drafting
from intake.actions import Action, Viewer
from intake.editing import EditTarget
from intake.errors import HubError
from intake.forms import Draft
from intake.read_models import Actor

MENTIONS = g.MentionSyntax(MENTION, lambda m: slack_ref(m.group(1), m.group(2) or None))


def render(said: Said) -> str:
    """Neutral text as mrkdwn: user text escaped, people as mentions."""
    return "\n".join(mrkdwn(line) for line in said.lines)


USECASE_HELP = render(helps(g.USECASE))


def reply(ack: Callable[..., None], text: str, blocks: list[dict[str, Any]] | None = None) -> None:
    """Answer a command privately, in the HTTP response."""
    ack(text=text, blocks=blocks, response_type="ephemeral")


def open_intake(
    core: Core, client: WebClient, trigger_id: str, draft: Draft, ctx: ModalContext, note: str | None = None
) -> None:
    """Open the intake form (within the 3 s the trigger id lives)."""
    view = build_intake_modal(draft, core.departments(), ctx=ctx, note=note)
    client.views_open(trigger_id=trigger_id, view=view)


def open_edit(core: Core, client: WebClient, trigger_id: str, target: EditTarget) -> None:
    """The intake form pre-filled with a use case: saved as an edit, or (changes were asked) as a resubmission."""
    uc = target.use_case
    ctx = ModalContext(use_case_id=uc.id)
    draft = Draft.of_answers(uc.answers())
    if target.resubmit:
        reviewer = uc.review.decided_by.name if uc.review and uc.review.decided_by else "The reviewer"
        note = changes_note(uc.review.reason if uc.review else None, reviewer)
        view = build_intake_modal(draft, core.departments(), ctx=ctx, note=note)
    else:
        view = build_intake_modal(draft, core.departments(), ctx=ctx, edit=True)
    client.views_open(trigger_id=trigger_id, view=view)


REASON_VIEWS = {Action.CLOSE: View.CLOSE, Action.REOPEN: View.REOPEN}


def open_reason_form(client: WebClient, trigger_id: str, asked: AskReason, round_: int | None = None) -> None:
    """The core's reason form (close, reopen) as a modal."""
    view = build_reason_form_modal(asked.form, REASON_VIEWS[asked.action], asked.use_case_id, round_)
    client.views_open(trigger_id=trigger_id, view=view)


def handle_usecase_command(
    ack: Callable[..., None], command: dict[str, Any], context: BoltContext, respond: Any, client: WebClient
) -> None:
    """Open the intake form, or answer list, status, stage and help."""
    core: Core = context["core"]
    actor: Actor = context["actor"]
    try:
        result = answer(core, actor, g.parse(g.USECASE, command.get("text") or "", MENTIONS))
    except HubError as exc:
        reply(ack, error_text(exc))
        return
    trigger_id = str(command.get("trigger_id") or "")
    if isinstance(result, DraftLater):  # recorded as durable work, then answered: the form comes to the DM
        core.run(drafting.request_draft, actor, result.text)
        reply(ack, DRAFTING)
        return
    if isinstance(result, Form | AskReason | AskRetro):
        ack()
        # The form opens right after the ack, on this thread (its trigger expires in 3 s). Nothing is
        # stored until the person submits it, so a crash here loses no work, only an unopened form.
        with telling_errors(respond, context, client):
            if isinstance(result, AskReason):
                open_reason_form(client, trigger_id, result)
            elif isinstance(result, AskRetro):
                client.views_open(trigger_id=trigger_id, view=build_retro_modal(result.form))
            elif result.edit is not None:
                open_edit(core, client, trigger_id, result.edit)
            else:
                ctx = ModalContext(channel_id=str(command.get("channel_id") or "")[:32] or None)
                open_intake(core, client, trigger_id, result.draft, ctx)
    else:
        answer_in_place(ack, result, core.now(), actor)


def answer_in_place(ack: Callable[..., None], result: Answer, now: dt.datetime, viewer: Actor) -> None:
    """Answer a command privately in its HTTP response, drawn for Slack."""
    if isinstance(result, Said):
        text = render(result)
        reply(ack, text, [blocks.section(text)] if len(text) <= 3000 else None)
    elif isinstance(result, UseCaseList):
        reply(ack, result.title, blocks.build_use_case_list(result.items, result.title, render(result.empty)))
    elif isinstance(result, Status):
        uc = result.use_case
        reply(ack, f"#{uc.id} {escape(uc.title)}", blocks.build_status(uc, Viewer.of(viewer)))
    elif isinstance(result, ExpertResult):
        text, drawn = build_experts(result, now)
        reply(ack, text, drawn)
    elif isinstance(result, PortfolioAnswer):
        reply(ack, *build_portfolio(result.message, chart_sent=result.chart_sent))
    else:
        reply(ack, "That can only be done from the intake form: `/usecase`.")


def handle_hub_command(ack: Callable[..., None], command: dict[str, Any], context: BoltContext) -> None:
    """Administer reviewers, departments, away flags, skills and guidelines."""
    core: Core = context["core"]
    try:
        result = answer(core, context["actor"], g.parse(g.HUB, command.get("text") or "", MENTIONS))
        answer_in_place(ack, result, core.now(), context["actor"])
    except HubError as exc:
        reply(ack, error_text(exc))
    finally:
        core.forget_actors()  # roles may have changed


def register(app: App, middleware: list[Any]) -> None:
    app.command(Command.USECASE, middleware=middleware)(handle_usecase_command)
    app.command(Command.HUB, middleware=middleware)(handle_hub_command)
