"""The baseline for bench/ack.py: a Bolt app whose `/usecase` and Approve listeners only ack.

It is served exactly as `hubspoke run` serves Slack: the same `slack_endpoint` from bot/web.py
(Bolt's dispatch on a worker thread via `run_in_threadpool`), uvicorn started the same way, and
an anyio thread limiter of 100. Only the listeners (and the middleware Hubspoke adds) differ.

    SLACK_BOT_TOKEN=... SLACK_SIGNING_SECRET=... SLACK_API_URL=http://127.0.0.1:P/api/ \
        python bench/bare_bolt.py --port 3001
"""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Callable

import anyio
import anyio.to_thread
import uvicorn
from slack_bolt import App
from slack_sdk import WebClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.web import SLACK_PATH, slack_endpoint
from handlers.slack.ids import Action, Command


def handle_ack_only(ack: Callable[..., None]) -> None:
    """Acknowledge and do nothing else."""
    ack()


def build_bare_app(token: str, signing_secret: str, api_url: str | None) -> App:
    """A Bolt app with the same client set-up as Hubspoke's; `auth.test` is called here, as there."""
    client = WebClient(token=token, base_url=api_url or WebClient.BASE_URL)
    app = App(client=client, signing_secret=signing_secret, logger=logging.getLogger("bare.slack"))
    app.command(Command.USECASE)(handle_ack_only)
    app.action(Action.APPROVE)(handle_ack_only)
    return app


def build_bare_asgi(app: App) -> Starlette:
    """/slack/events through bot/web.py's own endpoint, plus a /healthz that answers at once."""

    async def healthz(_: Request) -> Response:
        return JSONResponse({"ok": True})

    return Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route(SLACK_PATH, slack_endpoint(app), methods=["POST"]),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3001)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = build_bare_app(
        os.environ["SLACK_BOT_TOKEN"], os.environ["SLACK_SIGNING_SECRET"], os.environ.get("SLACK_API_URL")
    )
    config = uvicorn.Config(build_bare_asgi(app), host=args.host, port=args.port, log_level="info", access_log=False)
    server = uvicorn.Server(config)

    async def serve() -> None:
        # As in bot/cli.py cmd_run: Bolt's dispatch holds a worker thread until the listener acks.
        anyio.to_thread.current_default_thread_limiter().total_tokens = 100
        await server.serve()

    anyio.run(serve)


if __name__ == "__main__":
    main()
