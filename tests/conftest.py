"""Shared fixtures: a migrated database per test (SQLite file, and PostgreSQL when TEST_DATABASE_URL is set)."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from intake import people
from intake.read_models import Actor
from storage.db import UnitOfWork, configure_calendar, make_engine, make_session_factory, upgrade
from tests import network_guard
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


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped after the test."""
    base = postgres_url()
    if base is None:
        pytest.skip(NO_POSTGRES)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            # A test may leave a session open in a transaction (the outage tests black-hole theirs):
            # end whoever still holds locks in the schema, so dropping it never waits on them.
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(l.pid) FROM pg_locks l "
                    "JOIN pg_class c ON c.oid = l.relation JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = :schema AND l.pid <> pg_backend_pid()"
                ),
                {"schema": schema},
            )
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """Every test using this runs on a SQLite file and, when configured, on PostgreSQL."""
    name = "sqlite_url" if request.param == "sqlite" else "pg_url"
    return str(request.getfixturevalue(name))


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    upgrade(database_url)
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
def scenario(database_url: str) -> Iterator[Scenario]:
    from bot.app import create_app
    from bot.settings import Settings
    from bot.web import build_asgi
    from tests.fakes.server import serve
    from tests.fakes.signed import SIGNING_SECRET, SignedSlack
    from tests.fakes.slack_api import FakeSlack

    upgrade(database_url)
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
    try:
        with serve(build_asgi(app)) as base:
            yield Scenario(app=app, api=api, slack=SignedSlack(f"{base}/slack/events", api.hook_url), url=base)
    finally:
        api.stop()
        app.core.session_factory.kw["bind"].dispose()  # its pooled connections, now, not at garbage collection
        assert not api.invalid, f"the bot sent Block Kit Slack would refuse: {api.invalid}"
