"""Bolt middleware: event de-duplication, the acting person, role checks, and the global error handler."""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from slack_bolt import BoltContext, BoltRequest, BoltResponse
from slack_bolt.error import BoltUnhandledRequestError
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from bot.core import Core
from handlers.slack.mrkdwn import escape, when
from handlers.slack.people import SLACK_USER_ID, slack_ref
from handlers.slack.transport import VERIFIED
from intake import events
from intake.decisions import REVIEWERS_ONLY
from intake.errors import AlreadyDecided, HubError

log = logging.getLogger(__name__)


def dedupe_events(core: Core) -> Callable[..., Any]:
    """Global middleware: process each Events API event id once, however often Slack retries it."""

    def middleware(body: dict[str, Any], next: Callable[[], None]) -> BoltResponse | None:
        event_id = body.get("event_id")
        fresh = True
        if body.get("type") == "event_callback" and isinstance(event_id, str):
            if len(event_id) > 64:  # Slack's are ~12 characters; a longer one is kept by its digest
                event_id = "sha256:" + hashlib.sha256(event_id.encode()).hexdigest()[:57]
            fresh = core.run(events.claim_event, event_id)
        if not fresh:
            log.info("event %s already processed; ignoring Slack's retry", event_id)
            return BoltResponse(status=200, body="")
        next()
        return None

    return middleware


def _display_name(body: dict[str, Any]) -> str | None:
    user = body.get("user")
    if isinstance(user, dict):
        name = user.get("name") or user.get("username")
        return name[:120] if isinstance(name, str) else None
    name = body.get("user_name")
    return name[:120] if isinstance(name, str) else None


NO_USER = "I could not tell who sent this, so I did nothing. Please try again from Slack."


def with_actor(core: Core) -> Callable[..., Any]:
    """Listener middleware: put the acting person (with roles) into `context["actor"]`, or refuse politely."""

    def middleware(context: BoltContext, body: dict[str, Any], next: Callable[[], None]) -> BoltResponse | None:
        user_id = context.user_id
        if not isinstance(user_id, str) or not SLACK_USER_ID.fullmatch(user_id):
            log.info("refused a %s without a valid user id", body.get("type") or body.get("command") or "payload")
            if "command" in body:
                return BoltResponse(status=200, body={"response_type": "ephemeral", "text": NO_USER})
            return BoltResponse(status=200, body="")  # a click or form without a person: acknowledged, nothing done
        context["actor"], _ = core.actor(slack_ref(user_id, _display_name(body)), leads=core.settings.hub_leads)
        context["core"] = core
        next()
        return None

    return middleware


def reviewers_only(context: BoltContext, respond: Any, next: Callable[[], None]) -> BoltResponse | None:
    """Listener middleware: only hub reviewers and leads get past; others are told so, privately.

    A first gate only: the services re-read the clicker's roles in the transaction that records a decision.
    """
    actor = context.get("actor")
    if actor is not None and not actor.can_decide:  # roles are cached: look again before refusing
        core: Core = context["core"]
        ref = slack_ref(str(context.user_id))
        core.forget_actor(ref)
        actor = context["actor"] = core.actor(ref, leads=core.settings.hub_leads)[0]
    if actor is not None and actor.can_decide:
        next()
        return None
    message = REVIEWERS_ONLY
    if respond is not None and respond.response_url:
        respond(text=message, response_type="ephemeral", replace_original=False)
    return BoltResponse(status=200, body="")  # acknowledged: the refusal is the answer


def is_unavailable(error: BaseException) -> bool:
    """True when the error is the database not answering (down, unreachable, timed out), not a bug."""
    return isinstance(error, OperationalError | InterfaceError | PoolTimeout)


def log_error(error: BaseException) -> str:
    """Log an unexpected error (one line when it is the database being unavailable); the reference shown for it."""
    ref = uuid.uuid4().hex[:8]
    if is_unavailable(error):
        log.error("database unavailable (ref %s): %s", ref, type(getattr(error, "orig", None) or error).__name__)
    else:
        log.error("unexpected error (ref %s)", ref, exc_info=error)
    return ref


def error_text(error: BaseException) -> str:
    """The sentence a person sees for an error: the domain's own words, or a reference to the log."""
    if isinstance(error, HubError):
        text = escape(error.message)
        if isinstance(error, AlreadyDecided) and error.decided_at:
            text += f" ({when(error.decided_at)})"
        return text
    ref = log_error(error)
    if is_unavailable(error):
        return (
            f":warning: The hub cannot reach its database right now (ref `{ref}`), so this was not done. "
            "Please try again in a minute."
        )
    return f":warning: Something went wrong on our side (ref `{ref}`), so this was not done. Please try again."


def tell(text: str, respond: Any, context: BoltContext, client: WebClient) -> None:
    """Tell the person who acted, privately: via response_url when there is one, else in their DM."""
    try:
        if respond is not None and respond.response_url:
            respond(text=text, response_type="ephemeral", replace_original=False)
        elif context.user_id:
            client.chat_postMessage(channel=context.user_id, text=text)
    except (SlackApiError, OSError):
        log.warning("could not tell %s about an error", context.user_id, exc_info=True)


@contextmanager
def telling_errors(respond: Any, context: BoltContext, client: WebClient) -> Iterator[None]:
    """Around the work a listener does after ack(): errors are told to the person, never re-raised.

    Bolt's thread runner replaces an acknowledged response when a listener raises, so an error
    escaping after ack() would hold the HTTP response until Slack's 3 s timeout.
    """
    try:
        yield
    except Exception as exc:
        tell(error_text(exc), respond, context, client)


def handle_errors(
    error: BaseException,
    body: dict[str, Any],
    request: BoltRequest,
    respond: Any,
    context: BoltContext,
    client: WebClient,
) -> BoltResponse | None:
    """Global error handler: ignore unknown payloads quietly; tell the person about anything else.

    It never answers through a request that did not pass verification: the user id and response_url
    in an unverified body are whatever the sender wrote.
    """
    if not (request.mode == "socket_mode" or context.get(VERIFIED)):
        log.warning("error on an unverified request (%s); not answering it", type(error).__name__)
        return BoltResponse(status=401, body="")
    if isinstance(error, BoltUnhandledRequestError):
        kind = body.get("type") or ("slash_command" if "command" in body else "unknown")
        event = (body.get("event") or {}).get("type") if isinstance(body.get("event"), dict) else None
        log.info("ignored a %s%s payload Hubspoke does not handle", kind, f" ({event})" if event else "")
        return BoltResponse(status=200, body="")
    text = error_text(error)
    acked = getattr(context.ack, "response", None) is not None if context.ack else True
    if "command" in body and not acked:
        return BoltResponse(status=200, body={"response_type": "ephemeral", "text": text})  # in place
    if body.get("type") != "event_callback":
        tell(text, respond, context, client)
    return None  # not acknowledged (Bolt answers 500): Slack shows the click or form did not go through
