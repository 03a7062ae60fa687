"""The processes of the Procfile as an operator runs them: acknowledged clicks survive kill -9 of `hubspoke run`,
and on PostgreSQL web replicas answer while `hubspoke worker` delivers."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.core import Core
from bot.settings import Settings
from handlers.slack.ids import Action
from intake import hub, people, submission
from intake.schema import Submission
from storage.db import UnitOfWork, make_engine, make_session_factory, upgrade
from storage.models import AuditEvent, OutboxMessage, Review
from tests.factories import slack
from tests.fakes.server import wait_healthy
from tests.fakes.signed import SIGNING_SECRET, SignedSlack, SlackUser
from tests.fakes.slack_api import FakeSlack
from tests.test_cli import command, environment, free_port

SUBMISSION = {
    "title": "Forecast invoice volumes", "problem": "Finance guesses monthly invoice volumes by hand.",
    "department": "Finance", "benefit": "Right-sized team", "success_metric": "Late payments -30%",
    "data_availability": "available", "data_sensitivity": "personal", "people_affected": "internal",
    "autonomy": "assistive",
}


@pytest.fixture
def slack_api() -> Iterator[FakeSlack]:
    api = FakeSlack().start()
    try:
        yield api
    finally:
        api.stop()


def settings_env(api: FakeSlack, database_url: str) -> dict[str, str]:
    return {"SLACK_BOT_TOKEN": "xoxb-test-token", "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": api.base_url, "DATABASE_URL": database_url, "HUB_CHANNEL": "C_HUB",
            "HUB_LEADS": "ULEAD", "SLACK_POST_INTERVAL": "0"}


@contextmanager
def process(tmp_path: Path, name: str, args: list[str], env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    log = (tmp_path / f"{name}.log").open("w+")
    proc = subprocess.Popen([*command(), *args], cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT,
                            env=environment(**env))
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        log.close()


def pending_reviews(database_url: str, count: int) -> list[int]:
    """`count` use cases waiting for Rita's review, created through the services."""
    upgrade(database_url)
    settings = Settings(_env_file=None, database_url=database_url, hub_leads="ULEAD")
    engine = make_engine(database_url)
    core = Core(settings=settings, session_factory=make_session_factory(engine))
    with UnitOfWork(core.session_factory) as u:
        lead, _ = people.resolve_actor(u, slack("ULEAD", "lee"), leads=settings.hub_leads, now=core.now())
    core.run(hub.add_reviewer, lead, slack("UREV", "rita"), skills=["forecasting"])
    with UnitOfWork(core.session_factory) as u:
        spoke, _ = people.resolve_actor(u, slack("USPOKE", "sam"), leads=settings.hub_leads, now=core.now())
    ids = [core.run(submission.submit_use_case, spoke,
                    Submission.model_validate({**SUBMISSION, "title": f"Use case {n}"})).use_case.id
           for n in range(count)]
    engine.dispose()
    return ids


def decisions(database_url: str) -> tuple[int, int]:
    """(reviews decided, decision audit rows)."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            decided = conn.scalar(select(func.count()).select_from(Review).where(Review.decision.is_not(None)))
            audited = conn.scalar(select(func.count()).select_from(AuditEvent).where(
                AuditEvent.action.like("decision:%")))
        return int(decided or 0), int(audited or 0)
    finally:
        engine.dispose()


def pending_tasks(database_url: str) -> int:
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(OutboxMessage).where(
                OutboxMessage.operation == "task", OutboxMessage.delivered_at.is_(None))) or 0)
    finally:
        engine.dispose()


def test_approvals_slack_saw_acknowledged_survive_kill_9(tmp_path: Path, slack_api: FakeSlack) -> None:
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    use_cases = pending_reviews(url, 30)
    port = free_port()
    env = settings_env(slack_api, url)
    with process(tmp_path, "web", ["run", "--port", str(port)], env) as web:
        base = f"http://127.0.0.1:{port}"
        wait_healthy(base, timeout=30)
        rita = SlackUser("UREV", "rita")

        def click(use_case_id: int) -> int:
            slack = SignedSlack(f"{base}/slack/events", slack_api.hook_url)
            return slack.click(rita, Action.APPROVE, f"{use_case_id}:1").status_code

        with ThreadPoolExecutor(10) as pool:
            statuses = list(pool.map(click, use_cases))
        os.kill(web.pid, signal.SIGKILL)  # the moment the last acknowledgement arrived
        web.wait(10)
    assert statuses == [200] * 30
    decided, _ = decisions(url)
    # Every acknowledged click is stored: decided already, or waiting as durable work.
    assert decided + pending_tasks(url) == 30, "an Approve Slack showed as acknowledged was lost"
    with process(tmp_path, "web-again", ["run", "--port", str(port)], env):  # the next start finishes them
        wait_healthy(f"http://127.0.0.1:{port}", timeout=30)
        deadline = time.monotonic() + 30
        while decisions(url)[0] < 30 and time.monotonic() < deadline:
            time.sleep(0.2)
    assert decisions(url) == (30, 30)
    assert pending_tasks(url) == 0


@pytest.mark.postgres
def test_on_postgres_web_answers_and_the_worker_delivers(tmp_path: Path, slack_api: FakeSlack, pg_url: str) -> None:
    upgrade(pg_url)
    env = settings_env(slack_api, pg_url)
    port = free_port()
    with process(tmp_path, "web", ["run", "--no-console", "--port", str(port)], env):
        base = f"http://127.0.0.1:{port}"
        wait_healthy(base, timeout=30)
        slack = SignedSlack(f"{base}/slack/events", slack_api.hook_url)
        r = slack.command(SlackUser("ULEAD", "lee"), "/hub", "department add Finance")
        assert r.status_code == 200 and "Finance" in r.json()["text"]
        # The web replica answered; it delivers nothing itself (the profile read waits for a worker).
        engine = make_engine(pg_url)
        with engine.connect() as conn:
            waiting = conn.scalar(select(func.count()).select_from(OutboxMessage).where(
                OutboxMessage.delivered_at.is_(None)))
        assert waiting == 1 and not slack_api.of("users.info")
        with process(tmp_path, "worker", ["worker"], env):
            assert slack_api.wait_for("users.info", 1, timeout=20), "the worker delivered nothing"
            # New work is picked up at once (NOTIFY), by the worker, while web keeps answering.
            r = slack.command(SlackUser("ULEAD", "lee"), "/hub", "reviewer add <@UREV|rita> forecasting")
            assert r.status_code == 200
            assert slack_api.wait_for("users.info", 2, timeout=20)
        with engine.connect() as conn:
            assert conn.scalar(select(func.count()).select_from(OutboxMessage).where(
                OutboxMessage.delivered_at.is_(None))) == 0
        engine.dispose()
