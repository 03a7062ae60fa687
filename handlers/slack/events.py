"""Events: the App Home tab, and mentions of the bot."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltContext
from slack_sdk import WebClient

from bot.core import Core
from handlers.slack.blocks import build_home
from handlers.slack.commands import USECASE_HELP
from intake import services
from intake.views import Actor


def handle_app_home_opened(event: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    """Show my use cases and, for reviewers, my review queue."""
    if event.get("tab", "home") != "home":
        return
    core: Core = context["core"]
    actor: Actor = context["actor"]
    mine = core.read(services.my_use_cases, actor)
    queue = core.read(services.my_review_queue, actor) if actor.can_decide else None
    client.views_publish(user_id=event["user"], view=build_home(mine, queue))


def handle_app_mention(event: dict[str, Any], say: Callable[..., Any]) -> None:
    """Answer a mention with what the bot can do, in the thread."""
    if not event.get("channel"):
        return  # nowhere to answer
    say(text="Hi! " + USECASE_HELP, thread_ts=event.get("thread_ts") or event.get("ts"))


def register(app: App, middleware: list[Any]) -> None:
    app.event("app_home_opened", middleware=middleware)(handle_app_home_opened)
    app.event("app_mention")(handle_app_mention)
