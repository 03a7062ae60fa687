"""Events: the App Home tab (mentions and DMs are questions: see whoknows.py)."""

from __future__ import annotations

from typing import Any

from slack_bolt import App, BoltContext
from slack_sdk import WebClient

from bot.core import Core
from handlers.slack.blocks import build_home
from handlers.slack.portfolio import home_portfolio
from intake import queries
from intake.actions import Viewer
from intake.portfolio import portfolio
from intake.portfolio_words import compose_portfolio
from intake.read_models import Actor


def handle_app_home_opened(event: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    """Show my use cases; for reviewers, my review queue; for leads, the portfolio."""
    if event.get("tab", "home") != "home":
        return
    core: Core = context["core"]
    actor: Actor = context["actor"]
    mine = core.read(queries.my_use_cases, actor)
    queue = core.read(queries.my_review_queue, actor) if actor.can_decide else None
    home = build_home(mine, queue, Viewer.of(actor))
    if actor.is_lead:  # a lead's Home is the portfolio too
        message = compose_portfolio(core.read(portfolio, now=core.now()))
        home["blocks"] = (home["blocks"] + home_portfolio(message))[:100]
    client.views_publish(user_id=event["user"], view=home)


def register(app: App, middleware: list[Any]) -> None:
    app.event("app_home_opened", middleware=middleware)(handle_app_home_opened)
