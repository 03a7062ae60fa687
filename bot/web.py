"""The web process: Slack over HTTP at /slack/events and /healthz, served by uvicorn."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from slack_bolt import App
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.app import Hubspoke

log = logging.getLogger(__name__)

SLACK_PATH = "/slack/events"


def slack_endpoint(bolt: App):  # type: ignore[no-untyped-def]
    """Bolt's dispatch blocks until the listener acks, so it runs on a worker thread, not the event loop."""

    async def endpoint(request: Request) -> Response:
        body = await request.body()
        response = await run_in_threadpool(bolt.dispatch, to_bolt_request(request, body))
        return to_starlette_response(response)

    return endpoint


def build_asgi(hubspoke: Hubspoke, *, serve_slack_http: bool = True) -> Starlette:
    """The ASGI app; the outbox worker starts and stops with it."""

    async def healthz(_: Request) -> Response:
        try:
            with hubspoke.core.session_factory() as session:
                session.execute(text("SELECT 1"))
        except Exception:
            log.exception("health check: database unreachable")
            return JSONResponse({"ok": False, "database": "unreachable"}, status_code=503)
        return JSONResponse({"ok": True})

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        hubspoke.start_background()
        try:
            yield
        finally:
            hubspoke.stop()

    routes = [Route("/healthz", healthz, methods=["GET"])]
    if serve_slack_http and hubspoke.slack is not None:
        routes.append(Route(SLACK_PATH, slack_endpoint(hubspoke.slack), methods=["POST"]))
    return Starlette(routes=routes, lifespan=lifespan)
