"""Shared fixtures: a migrated database per test (SQLite file, and PostgreSQL when TEST_DATABASE_URL is set)."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from intake import people
from intake.read_models import Actor
from storage.db import UnitOfWork, configure_calendar, make_engine, make_session_factory, upgrade
from tests import network_guard
from tests.databases import PostgresPool, SqliteTemplate
from tests.factories import slack

network_guard.install()  # every test, from collection on: nothing beyond loopback

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
NOW = dt.datetime(2026, 11, 2, 9, 30, tzinfo=dt.UTC)  # a Monday


def postgres_url() -> str | None:
    return os.environ.get("TEST_DATABASE_URL") or None


# --- CI guard: with HUBSPOKE_REQUIRE_POSTGRES=1 a skipped PostgreSQL test fails the run ---------

_pg_outcomes: dict[str, int] = {"passed": 0, "skipped": 0, "failed": 0, "data": 0}
NO_POSTGRES = "TEST_DATABASE_URL is not set (PostgreSQL tests)"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "pg_url" in getattr(item, "fixturenames", ()) or "[postgres" in item.name:
            item.add_marker(pytest.mark.postgres)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if "postgres" in report.keywords and (report.when == "call" or report.skipped):
        # An expected failure ran on PostgreSQL (it reports as skipped with `wasxfail`).
        outcome = "passed" if hasattr(report, "wasxfail") else report.outcome
        if outcome == "skipped" and not hasattr(report, "wasxfail") and NO_POSTGRES not in str(report.longrepr):
            outcome = "data"  # skipped for want of shared/data (a clone outside the workspace), not of PostgreSQL
        _pg_outcomes[outcome] = _pg_outcomes.get(outcome, 0) + 1


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if os.environ.get("HUBSPOKE_REQUIRE_POSTGRES") != "1":
        return
    ran, skipped = _pg_outcomes["passed"] + _pg_outcomes["failed"], _pg_outcomes["skipped"]
    print(f"\nPostgreSQL tests: {ran} ran, {skipped} skipped", end="")
    data = _pg_outcomes["data"]
    print(f" ({data} more skipped: shared/data is not beside this clone)" if data else "")
    if ran == 0 or skipped:
        print("FAIL: HUBSPOKE_REQUIRE_POSTGRES=1 but PostgreSQL tests were skipped (is TEST_DATABASE_URL set?)")
        session.exitstatus = 1


EXPECTED_SKIPS = {
    "need PostgreSQL (set TEST_DATABASE_URL)": NO_POSTGRES,
    "need ../shared/data beside this clone": "shared/data",
}


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Skips for want of PostgreSQL or shared/data are one line each; any other skip is listed with its reason.

    pytest's own `-rs` would list every expected skip (over a hundred on a clone without PostgreSQL), burying
    the one that matters; addopts therefore leaves skips out of `-r` and this summary adds them back.
    """
    counts = dict.fromkeys(EXPECTED_SKIPS, 0)
    unexpected: list[str] = []
    for report in terminalreporter.stats.get("skipped", []):
        if hasattr(report, "wasxfail"):
            continue
        reason = str(report.longrepr[-1]) if isinstance(report.longrepr, tuple) else str(report.longrepr)
        what = next((what for what, mark in EXPECTED_SKIPS.items() if mark in reason), None)
        if what is None:
            unexpected.append(f"SKIPPED {report.nodeid}: {reason}")
        else:
            counts[what] += 1
    expected = [f"{n} {what}" for what, n in counts.items() if n]
    if expected or unexpected:
        terminalreporter.write_sep("-", "skipped")
        if expected:
            terminalreporter.write_line("expected: " + "; ".join(expected))
        for line in unexpected:
            terminalreporter.write_line(line)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'hubspoke.db'}"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> SqliteTemplate:
    """The migrated SQLite file each test's database is copied from (made on first use)."""
    return SqliteTemplate(tmp_path_factory.mktemp("migrated"))


@pytest.fixture(scope="session")
def postgres_pool() -> Iterator[PostgresPool]:
    """Migrated PostgreSQL schemas, lent to one test at a time (tests/databases.py)."""
    base = postgres_url()
    if base is None:
        pytest.skip(NO_POSTGRES)
    pool = PostgresPool(base)
    try:
        yield pool
    finally:
        pool.close()


@pytest.fixture
def pg_url(postgres_pool: PostgresPool) -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped after the test (see PostgresPool.finish)."""
    schema = postgres_pool.fresh()
    try:
        yield postgres_pool.url(schema)
    finally:
        postgres_pool.finish(schema)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """Every test using this runs on a SQLite file and, when configured, on PostgreSQL."""
    name = "sqlite_url" if request.param == "sqlite" else "pg_url"
    return str(request.getfixturevalue(name))


@pytest.fixture
def migrate(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """`migrate(url)`: the test's database at `url`, migrated to head, as `storage.db.upgrade(url)` leaves it.

    The migrations run once per session (tests/databases.py): a still empty SQLite file becomes a copy of
    the migrated template, a still empty PostgreSQL test schema is swapped for a migrated one. Any other
    database is upgraded.
    """

    def run(url: str) -> None:
        if make_url(url).get_backend_name() == "sqlite":
            filled = request.getfixturevalue("sqlite_template").fill(url)
        else:
            filled = postgres_url() is not None and request.getfixturevalue("postgres_pool").fill(url)
        if not filled:
            upgrade(url)

    return run


@pytest.fixture
def engine(database_url: str, migrate: Callable[[str], None]) -> Iterator[Engine]:
    migrate(database_url)
    eng = make_engine(database_url)
    yield eng
    eng.dispose()


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture
def uow(session_factory: sessionmaker[Session]):  # type: ignore[no-untyped-def]
    """A factory of fresh units of work: `with uow() as u: ...`."""
    return lambda: UnitOfWork(session_factory)


LEADS = frozenset({"ULEAD"})


def make_actor(factory: sessionmaker[Session], slack_id: str, name: str) -> Actor:
    """Resolve (creating on first sight) the Actor for a Slack user id."""
    with UnitOfWork(factory) as u:
        actor, _ = people.resolve_actor(u, slack(slack_id, name), leads=LEADS, now=NOW)
    return actor


# --- Slack scenarios: the real app over real HTTP, a loopback fake Slack Web API -------------

HUB_CHANNEL = "C_HUB"


@dataclass
class Scenario:
    """A running bot: `slack` sends signed requests in, `api` is the fake Web API it calls out to."""

    app: Any
    api: Any
    slack: Any
    url: str

    def user(self, user_id: str, name: str, tz: str = "Europe/London") -> Any:
        """A Slack user who sends requests; the fake's users.info answers with the same profile."""
        from tests.fakes.signed import SlackUser

        self.api.users[user_id] = {"id": user_id, "name": name, "tz": tz, "profile": {"display_name": name}}
        return SlackUser(user_id, name)


@pytest.fixture
def scenario(database_url: str, migrate: Callable[[str], None]) -> Iterator[Scenario]:
    import httpx

    from bot.app import create_app
    from bot.settings import Settings
    from bot.web import build_asgi
    from tests.fakes.server import serve
    from tests.fakes.signed import SIGNING_SECRET, SignedSlack
    from tests.fakes.slack_api import FakeSlack

    migrate(database_url)
    api = FakeSlack().start()
    settings = Settings(
        _env_file=None,
        slack_bot_token="xoxb-test-token",
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=api.base_url,
        database_url=database_url,
        hub_channel=HUB_CHANNEL,
        hub_leads="ULEAD",
        slack_post_interval=0.2,  # paced as in production (1 s there), a little faster for the tests
    )
    app = create_app(settings, outbox_interval=0.2, deliver=True)
    # Messages to people wait for their working hours (intake.calendar); these tests run at any hour of any
    # day, so here they go at once. tests/test_calendar.py and tests/test_retros.py test the waiting.
    configure_calendar(app.core.session_factory, None)
    # A new connection for each request, as the test server never sets TCP_NODELAY on its connections
    # (tests/fakes/server.py makes its socket without IPPROTO_TCP, so asyncio leaves Nagle on): on a
    # kept-alive connection every request after the first waited ~40 ms for the client's delayed ACK.
    client = httpx.Client(timeout=10, limits=httpx.Limits(max_keepalive_connections=0))
    try:
        with serve(build_asgi(app)) as base:
            signed = SignedSlack(f"{base}/slack/events", api.hook_url, client=client)
            yield Scenario(app=app, api=api, slack=signed, url=base)
    finally:
        client.close()
        api.stop()
        app.core.session_factory.kw["bind"].dispose()  # its pooled connections, now, not at garbage collection
        assert not api.invalid, f"the bot sent Block Kit Slack would refuse: {api.invalid}"


@pytest.fixture
def slack_llm(database_url: str, migrate: Callable[[str], None]) -> Iterator[tuple[Scenario, Any]]:
    """A running bot on Slack with an LLM endpoint: the loopback fake OpenAI-compatible server beside fake Slack."""
    from bot.app import create_app
    from bot.settings import Settings
    from bot.web import build_asgi
    from tests.fakes.openai_api import FakeOpenAI
    from tests.fakes.server import serve
    from tests.fakes.signed import SIGNING_SECRET, SignedSlack
    from tests.fakes.slack_api import FakeSlack

    migrate(database_url)
    api = FakeSlack().start()
    fake = FakeOpenAI(api_key="sk-test").start()
    settings = Settings(
        _env_file=None,
        slack_bot_token="xoxb-test-token",
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=api.base_url,
        database_url=database_url,
        hub_channel=HUB_CHANNEL,
        hub_leads="ULEAD",
        slack_post_interval=0.2,
        openai_api_key="sk-test",
        openai_base_url=fake.base_url,
    )
    app = create_app(settings, outbox_interval=0.2, deliver=True)
    configure_calendar(app.core.session_factory, None)
    try:
        with serve(build_asgi(app)) as base:
            yield Scenario(app=app, api=api, slack=SignedSlack(f"{base}/slack/events", api.hook_url), url=base), fake
    finally:
        api.stop()
        fake.stop()
        app.core.session_factory.kw["bind"].dispose()
    assert not api.invalid
