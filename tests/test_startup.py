"""Starting with a wrong, expired or placeholder token is one line naming the setting and what to do, exit 2."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.slack_api import FakeSlack
from tests.test_cli import hubspoke


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    api = FakeSlack().start()
    try:
        yield api
    finally:
        api.stop()


def one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line, got:\n{stderr}"
    assert "Traceback" not in stderr
    return lines[0]


@pytest.mark.parametrize("process", ["run", "clock", "worker"])
def test_the_sample_placeholders_are_recognised_before_any_network_call(
    tmp_path: Path, fake: FakeSlack, process: str
) -> None:
    done = hubspoke(tmp_path, process, DATABASE_URL=f"sqlite:///{tmp_path / 'hub.db'}", SLACK_BOT_TOKEN="xoxb-...",
                    SLACK_SIGNING_SECRET="...", SLACK_API_URL=fake.base_url)
    assert done.returncode == 2
    line = one_line(done.stderr)
    assert "SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET still hold the example value from .env.sample" in line
    assert "Install App" in line
    assert fake.calls == []  # nothing was asked of Slack


@pytest.mark.parametrize(("error", "advice"), [("invalid_auth", "Install App"), ("token_revoked", "reinstall")])
@pytest.mark.parametrize("process", ["run", "clock"])
def test_a_token_slack_refuses_is_named_with_slacks_reason(
    tmp_path: Path, fake: FakeSlack, process: str, error: str, advice: str
) -> None:
    fake.auth_error = error
    done = hubspoke(tmp_path, process, DATABASE_URL=f"sqlite:///{tmp_path / 'hub.db'}",
                    SLACK_BOT_TOKEN="xoxb-1-expired", SLACK_SIGNING_SECRET="s3cret", SLACK_API_URL=fake.base_url)
    assert done.returncode == 2
    line = one_line(done.stderr)
    assert line.startswith(f"hubspoke: SLACK_BOT_TOKEN was refused by Slack ({error}): ") and advice in line
    assert "xoxb-1-expired" not in done.stderr  # tokens are never printed


def test_an_unreachable_slack_says_where_it_looked(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}/api/"
    done = hubspoke(tmp_path, "run", DATABASE_URL=f"sqlite:///{tmp_path / 'hub.db'}",
                    SLACK_BOT_TOKEN="xoxb-1-real", SLACK_SIGNING_SECRET="s3cret", SLACK_API_URL=url)
    assert done.returncode == 2
    assert one_line(done.stderr).startswith(f"hubspoke: cannot reach Slack at {url}: ")


def test_socket_mode_is_told_what_socket_mode_needs(tmp_path: Path) -> None:
    done = hubspoke(tmp_path, "run", "--no-console", DATABASE_URL=f"sqlite:///{tmp_path / 'hub.db'}",
                    SLACK_APP_TOKEN="xapp-1-real")
    assert done.returncode == 2
    assert "SLACK_BOT_TOKEN not set. Socket Mode (SLACK_APP_TOKEN is set) needs SLACK_BOT_TOKEN and SLACK_APP_TOKEN" \
        in done.stderr
    assert "SLACK_SIGNING_SECRET" not in done.stderr
