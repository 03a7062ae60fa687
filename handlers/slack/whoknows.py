""" "Who knows X": the /whoknows command, mentions and DMs that ask it, and "Show more"."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltContext
from slack_sdk import WebClient

from bot.conversation import grammar as g
from bot.conversation.answers import LOOKING, ExpertsLater, answer
from bot.core import Core
from bot.expertise.ask import ask_who_knows
from bot.tasks import ReplyTo, request_who_knows
from handlers.slack.actions import reply_to
from handlers.slack.commands import USECASE_HELP, answer_in_place, reply
from handlers.slack.experts import build_experts
from handlers.slack.ids import Action, Command
from handlers.slack.middleware import error_text, telling_errors
from intake.errors import HubError
from intake.read_models import Actor

log = logging.getLogger(__name__)

# "who knows about demand forecasting?", "whoknows NLP", "does anyone know RAG", "who is an expert in OCR"
ASKING = re.compile(
    r"\b(?:who\s*knows|who\s+is\s+(?:an?\s+)?expert|does\s+anyone\s+know|anyone\s+know)"
    r"(?:\s+(?:about|on|in|of))?\s+(?P<topic>.+)",
    re.IGNORECASE | re.DOTALL,
)
MENTION = re.compile(r"<@[UW][A-Z0-9]+(?:\|[^>]*)?>")
WHOKNOWS_HELP = "Ask `/whoknows demand forecasting`, or mention me: _@Hubspoke who knows about RAG?_"


def topic_of(text: str) -> str | None:
    """The topic of a question like "who knows about X?", or None when it is not one."""
    cleaned = MENTION.sub(" ", text)
    match = ASKING.search(cleaned)
    if not match:
        return None
    topic = match.group("topic").strip().rstrip("?!. ")
    return topic or None


def _answer(core: Core, actor: Actor, topic: str, offset: int = 0) -> tuple[str, list[dict[str, Any]]]:
    """The answer at once, by words (and by meaning when the question's embedding is at hand: no call is made)."""
    u = core.expertise.cached_understanding(topic)
    vector, expansion = (u.vector, u.expansion) if u else (None, None)
    result = core.run(ask_who_knows, core.expertise, actor, topic, offset=offset, vector=vector, expansion=expansion)
    return build_experts(result, core.now())


def _later(core: Core, actor: Actor, topic: str, offset: int, reply_to: ReplyTo | None) -> bool:
    """With an embeddings endpoint, record the question as durable work answered by meaning too (to `reply_to`, or
    the asker's DM) and say so: True. Without one, or with its embedding at hand, False: answer at once."""
    index = core.expertise
    if not index.semantic or not topic.strip() or index.cached_understanding(topic) is not None:
        return False
    core.run(request_who_knows, actor, topic, offset, reply_to=reply_to)
    return True


def handle_whoknows_command(ack: Callable[..., None], command: dict[str, Any], context: BoltContext) -> None:
    """Answer "who knows X" privately, in the command's response."""
    core: Core = context["core"]
    try:
        request = g.parse(g.WHOKNOWS, command.get("text") or "")
        if isinstance(request, g.Help):
            reply(ack, WHOKNOWS_HELP)
            return
        result = answer(core, context["actor"], request)
        if isinstance(result, ExpertsLater):  # durable: the answer replaces this line in a moment
            url = command.get("response_url")
            target = ReplyTo(platform="slack", address=url) if isinstance(url, str) and url else None
            core.run(request_who_knows, context["actor"], result.topic, result.offset, reply_to=target)
            reply(ack, LOOKING)
            return
        answer_in_place(ack, result, core.now(), context["actor"])
    except HubError as exc:
        reply(ack, error_text(exc))


def handle_whoknows_mention(
    event: dict[str, Any], say: Callable[..., Any], context: BoltContext, client: WebClient
) -> None:
    """Answer a mention: "who knows X" in the thread, or what the bot can do."""
    if not event.get("channel"):
        return
    thread = event.get("thread_ts") or event.get("ts")
    topic = topic_of(event.get("text") or "")
    if topic is None:
        say(text=f"Hi! {WHOKNOWS_HELP}\n{USECASE_HELP}", thread_ts=thread)
        return
    with telling_errors(None, context, client):
        text, blocks = _answer(context["core"], context["actor"], topic)
        say(text=text, blocks=blocks, thread_ts=thread)


def handle_direct_message(
    event: dict[str, Any], say: Callable[..., Any], context: BoltContext, client: WebClient
) -> None:
    """In a DM, any question is a "who knows" question: "who knows X" or just "X"."""
    if event.get("subtype") or event.get("bot_id") or event.get("channel_type") != "im":
        log.debug("ignored a message event (%s) that is not a person's DM", event.get("subtype") or "channel")
        return  # edits, joins, channel chatter and bot messages are not questions
    text = (event.get("text") or "").strip()
    if not text:
        return
    if text.lower() in ("help", "hi", "hello", "?"):
        say(text=f"{WHOKNOWS_HELP}\n{USECASE_HELP}")
        return
    with telling_errors(None, context, client):
        core, actor, topic = context["core"], context["actor"], topic_of(text) or text
        if _later(core, actor, topic, 0, None):  # the answer comes to this DM
            say(text=LOOKING)
            return
        reply_text, blocks = _answer(core, actor, topic)
        say(text=reply_text, blocks=blocks)


def handle_show_more(
    ack: Callable[..., None], action: dict[str, Any], context: BoltContext, respond: Any, client: WebClient
) -> None:
    """Show the next people for the same question."""
    ack()
    with telling_errors(respond, context, client):
        try:
            asked = json.loads(action.get("value") or "")
            topic, offset = str(asked["q"]), int(asked["o"])
        except (ValueError, KeyError, TypeError):
            raise HubError("This button is out of date; ask again with /whoknows.") from None
        core, actor = context["core"], context["actor"]
        if _later(core, actor, topic, offset, reply_to(respond)):
            return  # the next people follow below, from the worker
        text, blocks = _answer(core, actor, topic, offset)
        respond(text=text, blocks=blocks, response_type="ephemeral", replace_original=False)


def register(app: App, middleware: list[Any]) -> None:
    app.command(Command.WHOKNOWS, middleware=middleware)(handle_whoknows_command)
    app.action(Action.WHOKNOWS_MORE, middleware=middleware)(handle_show_more)
    app.event("app_mention", middleware=middleware)(handle_whoknows_mention)
    app.event("message", middleware=middleware)(handle_direct_message)
