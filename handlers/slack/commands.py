"""Slash commands: `/usecase` (submit, list, status, stage) and `/hub` (administration)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltContext
from slack_sdk import WebClient

from bot.core import Core
from bot.expertise import skills
from bot.expertise.skills import parse_skills
from handlers.slack import blocks
from handlers.slack.ids import Command
from handlers.slack.middleware import error_text, telling_errors
from handlers.slack.modals import ModalContext, build_intake_modal
from handlers.slack.mrkdwn import escape
from intake import hub, services
from intake.errors import HubError
from intake.forms import Draft, draft_from_text
from intake.read_models import Actor
from intake.schema import Stage, label, parse_stage

MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|([^>]*))?>")

USECASE_HELP = (
    "*`/usecase`* opens the intake form. Other uses:\n"
    "• `/usecase <what you want to do>`: the form, pre-filled from your words\n"
    "• `/usecase list`: your use cases\n"
    "• `/usecase status 12`: everything about #12\n"
    "• `/usecase stage 12 experimentation`: move #12 along "
    + " → ".join(label(s).lower() for s in Stage if s is not Stage.CLOSED)
    + ", or `closed`"
)
HUB_HELP = (
    "*`/hub`* sets up the hub (leads only, except where noted):\n"
    "• `/hub reviewer add @person skill, skill…` / `/hub reviewer remove @person`\n"
    "• `/hub reviewer list`: reviewers, their skills and open reviews (anyone)\n"
    "• `/hub skills add forecasting, nlp` / `/hub skills remove nlp` / `/hub skills list` (yourself; leads add "
    "`@person` for others)\n"
    "• `/hub department add Finance` / `/hub department list` (anyone)\n"
    "• `/hub away @person on|off` (or `/hub away on|off` for yourself)\n"
    "• `/hub guidelines` (anyone) / `/hub guidelines set KEY VALUE`: what may go ahead self-serve"
)


def reply(ack: Callable[..., None], text: str, blocks: list[dict[str, Any]] | None = None) -> None:
    """Answer a command privately, in the HTTP response."""
    ack(text=text, blocks=blocks, response_type="ephemeral")


def open_intake(
    core: Core, client: WebClient, trigger_id: str, draft: Draft, ctx: ModalContext, note: str | None = None
) -> None:
    """Open the intake form (within the 3 s the trigger id lives)."""
    view = build_intake_modal(draft, core.departments(), ctx=ctx, note=note)
    client.views_open(trigger_id=trigger_id, view=view)


def handle_usecase_command(
    ack: Callable[..., None], command: dict[str, Any], context: BoltContext, respond: Any, client: WebClient
) -> None:
    """Open the intake form, or answer list, status, stage and help."""
    core: Core = context["core"]
    actor: Actor = context["actor"]
    text = (command.get("text") or "").strip()
    verb, _, rest = text.partition(" ")
    verb = verb.lower()
    try:
        if verb in ("help", "?"):
            reply(ack, USECASE_HELP)
        elif verb == "list":
            mine = core.read(services.my_use_cases, actor)
            reply(
                ack,
                "Your use cases",
                blocks.build_use_case_list(mine, "Your use cases", "None yet: `/usecase` to submit one."),
            )
        elif verb == "status":
            if not rest.strip():
                raise HubError("Which one? `/usecase status 12`")
            uc = core.read(services.get_use_case, services.parse_id(rest))
            reply(ack, f"#{uc.id} {escape(uc.title)}", blocks.build_status(uc))
        elif verb == "stage":
            ident, _, stage_text = rest.strip().partition(" ")
            target = parse_stage(stage_text)
            if not ident or target is None:
                stages = ", ".join(s.value.replace("_", " ") for s in Stage)
                raise HubError(f"Usage: `/usecase stage 12 experimentation`. Stages: {stages}.")
            uc = core.run(services.move_stage, actor, services.parse_id(ident), target)
            reply(
                ack,
                f"#{uc.id} {escape(uc.title)} is now in {label(uc.stage).lower()}.",
                [blocks.section(f":arrow_right: {blocks.ref(uc)} is now in *{label(uc.stage).lower()}*.")],
            )
        else:
            ack()
            # The form opens right after the ack, on this thread (its trigger expires in 3 s). Nothing is
            # stored until the person submits it, so a crash here loses no work, only an unopened form.
            with telling_errors(respond, context, client):
                draft = draft_from_text(text) if text else Draft()
                ctx = ModalContext(channel_id=str(command.get("channel_id") or "")[:32] or None)
                open_intake(core, client, str(command.get("trigger_id") or ""), draft, ctx)
    except HubError as exc:
        reply(ack, error_text(exc))


def _target(rest: str) -> tuple[str, str | None, str]:
    match = MENTION.search(rest)
    if not match:
        raise HubError("Mention the person: `/hub reviewer add @ana forecasting, nlp`.")
    return match.group(1), match.group(2), rest[match.end() :].strip()


def _hub_reply(core: Core, actor: Actor, text: str) -> str:
    words = text.split(maxsplit=2)
    area = words[0].lower() if words else "help"
    action = words[1].lower() if len(words) > 1 else ""
    rest = words[2] if len(words) > 2 else ""
    if area == "reviewer" and action == "add":
        user_id, name, skills_text = _target(rest)
        skills = [s.strip() for s in skills_text.split(",") if s.strip()]
        person = core.run(hub.add_reviewer, actor, user_id, skills=skills, name=name)
        shown = ", ".join(person.skills) or "no skills yet"
        return f":white_check_mark: <@{user_id}> is a hub reviewer ({escape(shown)})."
    if area == "reviewer" and action == "remove":
        user_id, _, _ = _target(rest)
        _, still_open = core.run(hub.remove_reviewer, actor, user_id)
        tail = f" They still hold {still_open} open review(s): reassign them from the cards." if still_open else ""
        return f"<@{user_id}> is no longer a hub reviewer.{tail}"
    if area == "reviewer" and action in ("list", ""):
        people = core.read(hub.list_reviewers)
        if not people:
            return "No reviewers yet. A lead adds them with `/hub reviewer add @person skill, skill`."
        lines = [
            f"• {blocks.who(p)}: {escape(', '.join(p.skills)) or '_no skills_'} · {p.open_reviews} open"
            + (" · _away_" if p.away else "")
            for p in people
        ]
        return "*Hub reviewers*\n" + "\n".join(lines)
    if area == "skills":
        return _skills_reply(core, actor, action, rest)
    if area == "department" and action == "add":
        name = core.run(hub.add_department, actor, rest)
        return f":white_check_mark: Department *{escape(name)}* added."
    if area == "department" and action in ("list", ""):
        names = core.read(hub.list_departments)
        return "*Departments*\n" + (
            "\n".join(f"• {escape(n)}" for n in names) or "None yet: `/hub department add NAME`."
        )
    if area == "away":
        args = text.split()[1:]
        mention = MENTION.search(text)
        target = mention.group(1) if mention else actor.slack_user_id
        state = next((a.lower() for a in args if a.lower() in ("on", "off")), None)
        if target is None or state is None:
            raise HubError("Usage: `/hub away @person on` or `/hub away off` for yourself.")
        person = core.run(hub.set_away, actor, target, state == "on")
        status = "away: new reviews skip them" if person.away else "back: reviews route to them again"
        return f"{blocks.who(person)} is {status}."
    if area == "guidelines":
        if action == "set":
            key, _, value = rest.partition(" ")
            core.run(hub.set_guideline, actor, key.strip(), value)
        g = core.read(hub.get_guidelines)
        return (
            "*Self-serve guidelines* (low-risk use cases meeting these go ahead without review)\n"
            f"• `self_serve`: {'on' if g.self_serve else 'off'}\n"
            f"• `self_serve_sensitivity`: {', '.join(s.value for s in g.self_serve_sensitivity)}\n"
            f"• `self_serve_requires_available_data`: {'on' if g.self_serve_requires_available_data else 'off'}\n"
            "Change with `/hub guidelines set KEY VALUE`."
        )
    return HUB_HELP


def _skills_reply(core: Core, actor: Actor, action: str, rest: str) -> str:
    match = MENTION.search(rest)
    person = match.group(1) if match else None
    listed = MENTION.sub("", rest) if match else rest
    if action == "add":
        view = core.run(skills.add_skills, actor, parse_skills(listed), slack_user_id=person)
        return f":white_check_mark: {blocks.mention_of(view)} now lists: {escape(', '.join(view.skills))}."
    if action == "remove":
        view = core.run(skills.remove_skills, actor, parse_skills(listed), slack_user_id=person)
        left = escape(", ".join(view.skills)) or "no skills"
        return f"Removed {escape(', '.join(view.removed))}. {blocks.mention_of(view)} now lists: {left}."
    view = core.read(skills.list_skills, actor, slack_user_id=person)
    shown = escape(", ".join(view.skills)) or "none yet: `/hub skills add forecasting, nlp`"
    return f"*Skills of {blocks.mention_of(view)}*: {shown}"


def handle_hub_command(ack: Callable[..., None], command: dict[str, Any], context: BoltContext) -> None:
    """Administer reviewers, departments, away flags, skills and guidelines."""
    core: Core = context["core"]
    try:
        reply(ack, _hub_reply(core, context["actor"], (command.get("text") or "").strip()))
    except HubError as exc:
        reply(ack, error_text(exc))
    finally:
        core.forget_actors()  # roles may have changed


def register(app: App, middleware: list[Any]) -> None:
    app.command(Command.USECASE, middleware=middleware)(handle_usecase_command)
    app.command(Command.HUB, middleware=middleware)(handle_hub_command)
