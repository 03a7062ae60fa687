"""The `hubspoke` command as an operator runs it: a real process, a real database, and the served bot."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from handlers.slack.ids import View
from tests.fakes.server import wait_healthy
from tests.fakes.signed import SIGNING_SECRET, SignedSlack, SlackUser
from tests.fakes.slack_api import FakeSlack

SCRIPT = Path(sys.executable).with_name("hubspoke")
SETTINGS = ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "SLACK_API_URL", "DATABASE_URL",
            "HUB_CHANNEL", "HUB_LEADS", "HUB_TIMEZONE", "REVIEW_REMINDER_HOURS", "REVIEW_ESCALATION_HOURS", "PORT")


def command() -> list[str]:
    return [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "bot.cli"]


def environment(**settings: str) -> dict[str, str]:
    """The parent's environment without any Hubspoke setting, plus `settings`."""
    env = {k: v for k, v in os.environ.items() if k not in SETTINGS}
    return {**env, **settings}


def hubspoke(cwd: Path, *args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    """Run `hubspoke ARGS` in `cwd` (where no .env is) and wait for it."""
    return subprocess.run([*command(), *args], cwd=cwd, env=environment(**settings), capture_output=True,
                          stdin=subprocess.DEVNULL, text=True, timeout=60)


@pytest.mark.parametrize(("given", "missing"), [("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"),
                                               ("SLACK_SIGNING_SECRET", "SLACK_BOT_TOKEN")])
def test_run_with_half_the_slack_settings_names_the_missing_one(tmp_path: Path, given: str, missing: str) -> None:
    done = hubspoke(tmp_path, "run", DATABASE_URL=f"sqlite:///{tmp_path / 'hub.db'}", **{given: "set"})
    assert done.returncode == 2
    assert f"cannot connect to Slack: {missing} not set" in done.stderr
    assert "Traceback" not in done.stderr


def test_run_without_any_slack_settings_says_which_to_set(tmp_path: Path) -> None:
    done = hubspoke(tmp_path, "run", DATABASE_URL=f"sqlite:///{tmp_path / 'hub.db'}")
    said = done.stdout + done.stderr
    assert "SLACK_BOT_TOKEN" in said and "SLACK_SIGNING_SECRET" in said
    assert "Traceback" not in said
    assert done.returncode == 0  # it falls back to the terminal console, which ends with its input


def test_deployments_opt_out_of_the_console_and_fail_loudly(tmp_path: Path) -> None:
    """The Procfile's web process must crash visibly, not idle in a console, when Slack is not configured."""
    done = hubspoke(tmp_path, "run", "--no-console", DATABASE_URL=f"sqlite:///{tmp_path / 'hub.db'}")
    assert done.returncode == 2
    assert "cannot connect to Slack: SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET not set" in done.stderr


def test_hub_set_up_from_scripts(tmp_path: Path, database_url: str) -> None:
    db = {"DATABASE_URL": database_url}
    upgraded = hubspoke(tmp_path, "db", "upgrade", **db)
    assert upgraded.returncode == 0, upgraded.stderr
    assert "database is up to date" in upgraded.stdout

    added = hubspoke(tmp_path, "hub", "reviewer", "add", "U1", "--skills", "nlp, forecasting", "--name", "Ana", **db)
    assert added.returncode == 0, added.stderr
    shown = added.stdout.partition("Ana (U1) is a hub reviewer; skills: ")[2]
    assert sorted(shown.strip().split(", ")) == ["forecasting", "nlp"], added.stdout

    listed = hubspoke(tmp_path, "hub", "reviewer", "list", "--json", **db)
    assert listed.returncode == 0, listed.stderr
    reviewers = json.loads(listed.stdout)
    assert [(r["handles"], r["name"], r["skills"], r["is_reviewer"]) for r in reviewers] == [
        ({"slack": "U1"}, "Ana", ["forecasting", "nlp"], True)]

    dept = hubspoke(tmp_path, "hub", "department", "add", "Finance", **db)
    assert dept.returncode == 0, dept.stderr
    assert "added department Finance" in dept.stdout
    again = hubspoke(tmp_path, "hub", "department", "add", "finance", **db)
    assert again.returncode == 1 and "Finance already exists" in again.stderr
    assert hubspoke(tmp_path, "hub", "department", "list", **db).stdout.split() == ["Finance"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def slack_api() -> Iterator[FakeSlack]:
    api = FakeSlack().start()
    try:
        yield api
    finally:
        api.stop()
        assert not api.invalid, api.invalid


def test_run_serves_slack_over_http(tmp_path: Path, slack_api: FakeSlack) -> None:
    port = free_port()
    log = (tmp_path / "hubspoke.log").open("w+")
    process = subprocess.Popen(
        [*command(), "run", "--port", str(port)], cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT,
        env=environment(SLACK_BOT_TOKEN="xoxb-test-token", SLACK_SIGNING_SECRET=SIGNING_SECRET,
                        SLACK_API_URL=slack_api.base_url, DATABASE_URL=f"sqlite:///{tmp_path / 'hub.db'}",
                        HUB_CHANNEL="C_HUB", HUB_LEADS="ULEAD"),
    )
    try:
        base = f"http://127.0.0.1:{port}"
        try:
            wait_healthy(base, timeout=30)
        except RuntimeError:
            log.seek(0)
            pytest.fail(f"hubspoke run never became healthy (exit {process.poll()}):\n{log.read()}")
        assert slack_api.of("auth.test"), "the bot did not check its token against SLACK_API_URL"

        slack = SignedSlack(f"{base}/slack/events", slack_api.hook_url)
        r = slack.command(SlackUser("ULEAD", "lee"), "/hub", "department add Finance")
        assert r.status_code == 200 and "Department *Finance* added" in r.json()["text"]

        r = slack.command(SlackUser("USPOKE", "sam"), "/usecase")
        assert r.status_code == 200
        opened = slack_api.wait_for("views.open", 1)
        assert opened, "no modal was opened"
        view = opened[0].params["view"]
        view = json.loads(view) if isinstance(view, str) else view
        assert view["callback_id"] == View.INTAKE
        department = next(b for b in view["blocks"] if b.get("block_id") == "department")
        assert [o["value"] for o in department["element"]["options"]] == ["Finance"]

        unsigned = slack.client.post(f"{base}/slack/events", content="command=%2Fhub&text=help",
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert unsigned.status_code == 401
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        log.close()
