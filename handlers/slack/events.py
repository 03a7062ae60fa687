"""Events: the App Home tab (mentions and DMs are questions: see whoknows.py)."""

from __future__ import annotations

from typing import Any

from slack_bolt import App, BoltContext
from slack_sdk import WebClient

from bot.core import Core
from handlers.slack.blocks import build_home
from intake import queries
from intake.actions import Viewer
from intake.read_models import Actor


def handle_app_home_opened(event: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    """Show my use cases and, for reviewers, my review queue."""
    if event.get("tab", "home") != "home":
        return
    core: Core = context["core"]
    actor: Actor = context["actor"]
    mine = core.read(queries.my_use_cases, actor)
    queue = core.read(queries.my_review_queue, actor) if actor.can_decide else None
    client.views_publish(user_id=event["user"], view=build_home(mine, queue, Viewer.of(actor)))


def register(app: App, middleware: list[Any]) -> None:
    app.event("app_home_opened", middleware=middleware)(handle_app_home_opened)
