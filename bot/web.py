"""The web process: Slack over HTTP at /slack/events and /healthz, served by uvicorn."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

import anyio
import anyio.to_thread
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.app import Hubspoke

log = logging.getLogger(__name__)

SLACK_PATH = "/slack/events"
TEAMS_PATH = "/api/messages"
HEALTH_DEADLINE = 3.0  # seconds; a load balancer's probe should hear back even when the database does not


async def unconfigured_teams(_: Request) -> Response:
    """/api/messages when Teams has neither credentials nor TEAMS_ALLOW_UNAUTHENTICATED."""
    return JSONResponse({"error": "Authentication not configured"}, status_code=401)


def build_asgi(hubspoke: Hubspoke, *, serve_slack_http: bool = True) -> Starlette:
    """The ASGI app; the outbox worker (when this process delivers) starts and stops with it."""

    def ping() -> None:
        with hubspoke.core.session_factory() as session:
            session.execute(text("SELECT 1"))

    async def healthz(_: Request) -> Response:
        """200 when the database answers; 503 (after at most HEALTH_DEADLINE) when it does not."""
        problem = "timeout"
        with anyio.move_on_after(HEALTH_DEADLINE):
            try:
                await anyio.to_thread.run_sync(ping, abandon_on_cancel=True)
                return JSONResponse({"ok": True})
            except Exception as exc:
                problem = type(exc).__name__
        log.warning("health check: database unreachable (%s)", problem)
        return JSONResponse({"ok": False, "database": "unreachable"}, status_code=503)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        hubspoke.start_background()
        try:
            yield
        finally:
            hubspoke.stop()

    routes = [Route("/healthz", healthz, methods=["GET"])]
    if serve_slack_http and hubspoke.slack is not None:
        from handlers.slack.transport import slack_endpoint

        secret = hubspoke.settings.slack_signing_secret
        assert secret is not None, "HTTP mode needs SLACK_SIGNING_SECRET (checked at start)"
        routes.append(Route(SLACK_PATH, slack_endpoint(hubspoke.slack, secret.get_secret_value()), methods=["POST"]))
    if hubspoke.teams is not None:
        routes.append(Route(TEAMS_PATH, hubspoke.teams.endpoint, methods=["POST"]))
    else:  # Teams not configured: its endpoint refuses everyone, as an unconfigured bot must
        routes.append(Route(TEAMS_PATH, unconfigured_teams, methods=["POST"]))
    return Starlette(routes=routes, lifespan=lifespan)
