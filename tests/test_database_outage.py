"""A database that stops answering (black-holed, not refused): the bot still answers Slack in time and says
the hub is unavailable, health checks fail fast, and it recovers once the database is back."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bot.app import create_app
from bot.settings import Settings
from bot.web import build_asgi
from handlers.slack.ids import Action
from storage.db import upgrade
from tests.fakes.server import serve
from tests.fakes.signed import SIGNING_SECRET, SignedSlack, SlackUser
from tests.fakes.slack_api import FakeSlack
from tests.fakes.tcp_proxy import TcpProxy

pytestmark = pytest.mark.postgres


@pytest.fixture
def proxied(pg_url: str) -> Iterator[tuple[str, TcpProxy]]:
    """The test's PostgreSQL, reached through a proxy that can black-hole it."""
    upgrade(pg_url)
    url = make_url(pg_url)
    proxy = TcpProxy((url.host or "127.0.0.1", url.port or 5432)).start()
    try:
        yield url.set(port=proxy.port).render_as_string(hide_password=False), proxy
    finally:
        proxy.stop()


def timed(call):  # type: ignore[no-untyped-def]
    start = time.monotonic()
    result = call()
    return result, time.monotonic() - start


def test_a_black_holed_database_never_stalls_slack_or_the_health_check(proxied: tuple[str, TcpProxy]) -> None:
    url, proxy = proxied
    api = FakeSlack().start()
    settings = Settings(_env_file=None, slack_bot_token="xoxb-test", slack_signing_secret=SIGNING_SECRET,
                        slack_api_url=api.base_url, database_url=url, hub_channel="C_HUB", hub_leads="ULEAD",
                        database_connect_timeout=2, database_statement_timeout=2)
    app = create_app(settings, deliver=True, outbox_interval=0.2)
    with app.core.session_factory() as session:  # the configured timeouts reach every connection
        assert session.execute(text("SHOW statement_timeout")).scalar() == "2s"
    lead = SlackUser("ULEAD", "lee")
    try:
        with serve(build_asgi(app)) as base, restored(proxy):
            slack = SignedSlack(f"{base}/slack/events", api.hook_url)
            assert slack.command(lead, "/hub", "department list").status_code == 200
            proxy.blackhole()

            r, took = timed(lambda: slack.post_json({"type": "url_verification", "challenge": "c-123",
                                                     "token": "t"}))
            assert r.status_code == 200 and "c-123" in r.text and took < 1.0
            r, took = timed(lambda: slack.client.get(f"{base}/healthz"))
            assert r.status_code == 503 and took < 4.0
            r, took = timed(lambda: slack.command(lead, "/usecase", "list"))
            assert r.status_code == 200 and took < 3.0, took
            answer = r.json()
            assert answer["response_type"] == "ephemeral" and "database" in answer["text"]
            assert "try again" in answer["text"] and "not done" in answer["text"]
            r, took = timed(lambda: slack.click(SlackUser("UREV", "rita"), Action.APPROVE, "1:1"))
            assert r.status_code >= 500 and took < 3.0  # not acknowledged: Slack shows the click failed
            if r.status_code == 500:  # the database refused in time: the person is told why, privately
                assert "database" in api.wait_for_hook("database")

            proxy.restore()
            deadline = time.monotonic() + 20
            while True:  # once the database answers again, so does the hub (dead connections are replaced)
                r = slack.command(lead, "/hub", "department list")
                if "Departments" in r.text or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            assert "Departments" in json.dumps(r.json())
            assert slack.client.get(f"{base}/healthz").status_code == 200
    finally:
        api.stop()
        app.core.session_factory.kw["bind"].dispose()


@contextmanager
def restored(proxy: TcpProxy) -> Iterator[None]:
    """Whatever happens in the block, the database is reachable again after it (so clean-up can run)."""
    try:
        yield
    finally:
        proxy.restore()
