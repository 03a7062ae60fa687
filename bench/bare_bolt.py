"""The baseline for bench/ack.py: a bare Bolt app making the same Slack calls as Hubspoke, and nothing else.

`/usecase` acks and opens a modal; Approve acks and updates the message it was clicked on. It is
served the way a Bolt app is served on Starlette: Bolt's own request verification, Bolt's Starlette
adapter to build the request, Bolt's dispatch on a worker thread, uvicorn started as `hubspoke run`
starts it, an anyio thread limiter of 100. Only Hubspoke's work (its checks before Bolt, the
database, the decision recorded before the ack, the outbox) differs.

    SLACK_BOT_TOKEN=... SLACK_SIGNING_SECRET=... SLACK_API_URL=http://127.0.0.1:P/api/ \
        python bench/bare_bolt.py --port 3001
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anyio
import anyio.to_thread
import uvicorn
from slack_bolt import App
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from slack_sdk import WebClient
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.web import SLACK_PATH
from handlers.slack.ids import Action, Command


def same_payloads() -> tuple[dict[str, Any], tuple[str, list[dict[str, Any]]]]:
    """Hubspoke's own intake modal and a decided review card: the bare app sends Slack the same bytes."""
    from handlers.slack.blocks import build_review_card
    from handlers.slack.modals import Draft, ModalContext, build_intake_modal
    from intake.notices import ReviewCard
    from intake.read_models import PersonView, ReviewView, UseCaseView

    modal = build_intake_modal(Draft(), ["Finance"], ctx=ModalContext())
    sam, rita = PersonView(id=1, name="Sam"), PersonView(id=2, name="Rita")
    at = dt.datetime(2026, 11, 2, 9, 30, tzinfo=dt.UTC)
    case = UseCaseView(
        id=1, title="Forecast invoice volumes 1", department="Finance", benefit="Right-sized team, fewer late payments",
        problem="Finance guesses monthly invoice volumes by hand and staffs the team wrong.",
        success_metric="Late payments down 30% by Q3", data_sources="ERP invoice history",
        data_availability="available", data_sensitivity="personal", people_affected="internal", autonomy="assistive",
        target_date=None, links=[], risk_tier="medium", route="hub_review", status="approved", stage="ideation",
        triage_reasons=["Medium: uses personal data", "Review: medium risk needs hub review"], submitter=sam,
        reviewer=rita, created_at=at, updated_at=at,
        review=ReviewView(round=1, reviewer=rita, assigned_at=at, decision="approve", decided_by=rita, decided_at=at),
    )  # fmt: skip
    return modal, build_review_card(ReviewCard(use_case=case))


MODAL, (CARD_TEXT, CARD_BLOCKS) = same_payloads()


def handle_open_modal(ack: Callable[..., None], body: dict[str, Any], client: WebClient) -> None:
    """Acknowledge, then open a modal (as /usecase does)."""
    ack()
    client.views_open(trigger_id=body["trigger_id"], view=MODAL)


def handle_update_message(ack: Callable[..., None], body: dict[str, Any], client: WebClient) -> None:
    """Acknowledge, then update the message clicked on (as a decision updates its card)."""
    ack()
    channel = (body.get("channel") or {}).get("id") or "C_HUB"
    ts = (body.get("container") or {}).get("message_ts") or "1.1"
    client.chat_update(channel=channel, ts=ts, text=CARD_TEXT, blocks=CARD_BLOCKS)


def build_bare_app(token: str, signing_secret: str, api_url: str | None) -> App:
    """A Bolt app with the same client set-up as Hubspoke's; `auth.test` is called here, as there."""
    client = WebClient(token=token, base_url=api_url or WebClient.BASE_URL)
    app = App(
        client=client,
        signing_secret=signing_secret,
        logger=logging.getLogger("bare.slack"),
        listener_executor=ThreadPoolExecutor(max_workers=32),  # as Hubspoke's (Bolt's default is 5)
    )
    app.command(Command.USECASE)(handle_open_modal)
    app.action(Action.APPROVE)(handle_update_message)
    return app


def slack_endpoint(app: App) -> Callable[[Request], Awaitable[Response]]:
    """Bolt's Starlette adapter, with dispatch on a worker thread (it blocks until the listener acks)."""

    async def endpoint(request: Request) -> Response:
        body = await request.body()
        response = await run_in_threadpool(app.dispatch, to_bolt_request(request, body))
        return to_starlette_response(response)

    return endpoint


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
