"""Bolt middleware: event de-duplication, the acting person, role checks, and the global error handler."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

from slack_bolt import BoltContext, BoltResponse
from slack_bolt.error import BoltUnhandledRequestError
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.core import Core
from handlers.slack.mrkdwn import escape, when
from intake import hub
from intake.errors import AlreadyDecided, HubError

log = logging.getLogger(__name__)


def dedupe_events(core: Core) -> Callable[..., Any]:
    """Global middleware: process each Events API event id once, however often Slack retries it."""

    def middleware(body: dict[str, Any], next: Callable[[], None]) -> BoltResponse | None:
        event_id = body.get("event_id")
        fresh = True
        if body.get("type") == "event_callback" and isinstance(event_id, str):
            fresh = core.run(hub.claim_event, event_id)
        if not fresh:
            log.info("event %s already processed; ignoring Slack's retry", event_id)
            return BoltResponse(status=200, body="")
        next()
        return None

    return middleware


def _display_name(body: dict[str, Any]) -> str | None:
    user = body.get("user")
    if isinstance(user, dict):
        return user.get("name") or user.get("username")
    return body.get("user_name")


class ProfileSync:
    """Fetches a person's real name and time zone from Slack in the background, once per process."""

    def __init__(self, core: Core, client: WebClient) -> None:
        self._core = core
        self._client = client
        self._seen: set[str] = set()
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="hubspoke-profile")

    def schedule(self, slack_user_id: str) -> None:
        with self._lock:
            if slack_user_id in self._seen:
                return
            self._seen.add(slack_user_id)
        self._pool.submit(self._sync, slack_user_id)

    def _sync(self, slack_user_id: str) -> None:
        try:
            user = self._client.users_info(user=slack_user_id)["user"]
        except (SlackApiError, OSError, KeyError) as exc:
            log.warning("could not read Slack profile of %s: %s", slack_user_id, exc)
            return
        profile = user.get("profile") or {}
        name = profile.get("display_name") or profile.get("real_name") or user.get("real_name") or user.get("name")
        self._core.run(hub.update_profile, slack_user_id, name=name, tz=user.get("tz"))
        self._core.forget_actors()


def with_actor(core: Core, profiles: ProfileSync | None) -> Callable[..., Any]:
    """Listener middleware: put the acting person (with roles) into `context["actor"]`."""

    def middleware(context: BoltContext, body: dict[str, Any], next: Callable[[], None]) -> None:
        if context.user_id:
            actor, created = core.slack_actor(context.user_id, _display_name(body))
            context["actor"] = actor
            if profiles and (created or actor.tz is None):
                profiles.schedule(context.user_id)
        context["core"] = core
        next()

    return middleware


def reviewers_only(context: BoltContext, ack: Callable[..., None], respond: Any, next: Callable[[], None]) -> None:
    """Listener middleware: only hub reviewers and leads get past; others are told so, privately."""
    actor = context.get("actor")
    if actor is not None and actor.can_decide:
        next()
        return
    ack()
    message = "Only hub reviewers can decide on use cases. A hub lead can add you with `/hub reviewer add`."
    if respond is not None and respond.response_url:
        respond(text=message, response_type="ephemeral", replace_original=False)


def error_text(error: BaseException) -> str:
    """The sentence a person sees for an error: the domain's own words, or a reference to the log."""
    if isinstance(error, HubError):
        text = escape(error.message)
        if isinstance(error, AlreadyDecided) and error.decided_at:
            text += f" ({when(error.decided_at)})"
        return text
    ref = uuid.uuid4().hex[:8]
    log.error("unexpected error (ref %s)", ref, exc_info=error)
    return f":warning: Something went wrong on our side (ref `{ref}`). Nothing you sent was lost; please try again."


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
    error: BaseException, body: dict[str, Any], respond: Any, context: BoltContext, client: WebClient
) -> BoltResponse | None:
    """Global error handler: ignore unknown payloads quietly; tell the person about anything else."""
    if isinstance(error, BoltUnhandledRequestError):
        kind = body.get("type") or ("slash_command" if "command" in body else "unknown")
        event = (body.get("event") or {}).get("type") if isinstance(body.get("event"), dict) else None
        log.info("ignored a %s%s payload Hubspoke does not handle", kind, f" ({event})" if event else "")
        return BoltResponse(status=200, body="")
    text = error_text(error)
    if body.get("type") != "event_callback":
        tell(text, respond, context, client)
    return None
