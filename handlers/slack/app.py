"""Builds the Bolt app: verification, middleware, listeners and the global error handler."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

from slack_bolt import App
from slack_sdk import WebClient

from bot.core import Core
from handlers.slack import actions, commands, events, views, whoknows
from handlers.slack.middleware import dedupe_events, handle_errors, with_actor

LISTENER_THREADS = 32


CLIENT_TIMEOUT = 20  # seconds; well inside an outbox lease, so a healthy worker never loses one mid-send


def build_client(token: str, base_url: str | None) -> WebClient:
    """A Web API client; `base_url` points it at another Slack API (tests use a loopback fake)."""
    return WebClient(token=token, base_url=base_url or WebClient.BASE_URL, timeout=CLIENT_TIMEOUT)


def build_bolt_app(core: Core, client: WebClient, *, signing_secret: str | None) -> App:
    """A Bolt app with every Hubspoke listener registered; `auth.test` is called once here."""
    app = App(
        client=client,
        # Bolt's default pool has 5 threads; an ack must never wait for a thread behind other work.
        listener_executor=ThreadPoolExecutor(max_workers=LISTENER_THREADS, thread_name_prefix="hubspoke-listener"),
        signing_secret=signing_secret,
        # handlers/slack/transport.py verifies every HTTP request before Bolt sees it (Bolt's own check
        # logs whole bodies, and lets a malformed timestamp reach the error handler unverified).
        request_verification_enabled=False,
        raise_error_for_unhandled_request=True,
        logger=logging.getLogger("hubspoke.slack"),
    )
    app.use(dedupe_events(core))
    app.error(handle_errors)
    needs_actor = [with_actor(core)]
    for surface in (commands, actions, views, events, whoknows):
        surface.register(app, needs_actor)
    return app
