"""The composition root: `create_app` wires settings, storage, chat ports and adapters together."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session, sessionmaker

from bot.chat import ChatPort, TaskPort
from bot.core import Core
from bot.outbox import OutboxWorker
from bot.settings import Settings
from bot.tasks import TASKS, TaskRunner
from storage.db import (
    configure_calendar,
    configure_delivery,
    configure_llm,
    is_current,
    is_embedded,
    make_engine,
    make_session_factory,
    upgrade,
)
from storage.types import utcnow

if TYPE_CHECKING:  # Slack's and Teams' SDKs load only when configured (the console starts faster)
    from slack_bolt import App

    from handlers.teams.app import TeamsAdapter

log = logging.getLogger(__name__)


class NotConfigured(Exception):
    """Settings are missing for what was asked; the message names them."""


@dataclass
class Hubspoke:
    """A built app: the core, the outbound port and worker, and the Slack adapter when configured."""

    settings: Settings
    core: Core
    chat: ChatPort | None
    outbox: OutboxWorker | None
    slack: App | None
    teams: TeamsAdapter | None = None
    ports: dict[str, ChatPort] | None = None  # every platform this process sends to, the first preferred

    def start_background(self) -> None:
        """Start delivering the outbox."""
        if self.outbox:
            self.outbox.start()

    def stop(self) -> None:
        if self.outbox:
            self.outbox.stop()


def open_database(settings: Settings) -> sessionmaker[Session]:
    """A session factory; the embedded SQLite default is migrated on start, other databases must be current."""
    if is_embedded(settings.database_url):
        upgrade(settings.database_url)
    engine = make_engine(
        settings.database_url,
        connect_timeout=settings.database_connect_timeout,
        statement_timeout=settings.database_statement_timeout,
    )
    if not is_current(engine):
        raise NotConfigured("The database schema is not current. Run `hubspoke db upgrade` first.")
    return make_session_factory(engine)


def create_app(
    settings: Settings,
    *,
    chat: ChatPort | None = None,
    llm: Any = None,
    session_factory: sessionmaker[Session] | None = None,
    clock: Callable[[], dt.datetime] = utcnow,
    outbox_interval: float = 0.5,
    deliver: bool | None = None,
    listen: bool = True,
) -> Hubspoke:
    """Build everything; nothing connects before this is called. Pass fakes for `chat` in tests.

    `deliver` says whether this process runs an outbox worker (default: settings.delivers_in_process,
    that is on the embedded SQLite only); `listen=False` builds the chat ports without the Slack
    listeners (the worker and the clock process send, they do not answer requests).
    """
    factory = session_factory or open_database(settings)
    from bot.llm import build_llm

    core = Core(settings=settings, session_factory=factory, clock=clock, llm=llm or build_llm(settings, factory))
    configure_llm(factory, bool(core.llm.enabled))
    slack_app: App | None = None
    if settings.slack_bot_token is not None:
        from handlers.slack.app import build_bolt_app, build_client
        from handlers.slack.chat import SlackChat

        client = build_client(settings.slack_bot_token.get_secret_value(), settings.slack_api_url)
        if listen:
            secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else None
            slack_app = build_bolt_app(core, client, signing_secret=secret)
        if chat is None:
            chat = SlackChat(client, settings.hub_channel, post_interval=settings.slack_post_interval)
        if not settings.hub_channel:
            log.warning("HUB_CHANNEL is not set: review cards have nowhere to go until it is")
    teams: TeamsAdapter | None = None
    chats: dict[str, ChatPort] = {chat.platform: chat} if chat is not None else {}
    if settings.teams_enabled:
        from handlers.teams.chat import TeamsChat

        teams_chat = TeamsChat(
            factory,
            app_id=settings.teams_app_id,
            password=settings.teams_app_password.get_secret_value() if settings.teams_app_password else None,
            tenant=settings.teams_tenant_id,
            hub_channel=settings.teams_hub_channel,
        )
        chats.setdefault(teams_chat.platform, teams_chat)
        if listen:
            from handlers.teams.app import TeamsAdapter

            teams = TeamsAdapter(core, settings, teams_chat)
        if not settings.teams_app_id:
            log.warning("Teams is served WITHOUT authentication (TEAMS_ALLOW_UNAUTHENTICATED): development only")
    chat = chat or next(iter(chats.values()), None)
    # Messages are addressed to people and to the hub; the outbox sends each through the platform
    # they are on (storage.repo.enqueue). A platform without a sender here keeps its messages for one.
    platforms = tuple(chats) or ("slack",)
    hub_platforms = tuple(p for p, port in chats.items() if p != "slack" or bool(settings.hub_channel))
    configure_delivery(factory, platforms, hub_platforms)
    configure_calendar(factory, settings)  # retro prompts and invitations wait for the recipient's working hours
    worker = None
    if chat is not None and (settings.delivers_in_process if deliver is None else deliver):
        # Each platform's rows go to its port; the task runner carries out the durable work requests
        # started (decisions clicked on cards).
        ports: dict[str | None, ChatPort | TaskPort] = {TASKS: TaskRunner(core)}
        ports.update(chats)
        worker = OutboxWorker(
            factory,
            ports,
            concurrency=settings.outbox_concurrency,
            interval=outbox_interval,
            clock=clock,
            nice=settings.outbox_nice,
            post_rates={"slack": settings.slack_workspace_rate},
        )
        core.on_commit.append(worker.wake)
    return Hubspoke(settings=settings, core=core, chat=chat, outbox=worker, slack=slack_app, teams=teams, ports=chats)
