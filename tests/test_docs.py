"""The docs stay true: manifest, README configuration table, .env.sample and Procfile match the code."""

from __future__ import annotations

import json
import re
from pathlib import Path

from bot.settings import Settings
from handlers.slack.ids import Command

ROOT = Path(__file__).resolve().parents[1]


def test_manifest_declares_every_command_escaped_and_the_events_we_handle() -> None:
    manifest = json.loads((ROOT / "manifest.json").read_text())
    commands = {c["command"]: c for c in manifest["features"]["slash_commands"]}
    assert set(commands) == {c.value for c in Command}
    assert all(c["should_escape"] for c in commands.values()), "mentions must arrive as <@U…> ids"
    assert set(manifest["settings"]["event_subscriptions"]["bot_events"]) == {
        "app_home_opened",
        "app_mention",
        "message.im",
    }
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {"commands", "chat:write", "im:write", "im:history", "users:read", "app_mentions:read"} <= scopes
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True


def test_every_setting_is_documented_in_readme_and_env_sample() -> None:
    readme = (ROOT / "README.md").read_text()
    sample = (ROOT / ".env.sample").read_text()
    for name in Settings.model_fields:
        env = name.upper()
        assert re.search(rf"^\| `{env}` \|", readme, re.M), f"{env} missing from README's configuration table"
        assert env in sample, f"{env} missing from .env.sample"


def test_procfile_runs_web_worker_and_one_clock() -> None:
    procs = dict(line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line.strip())
    assert procs["web"].startswith("hubspoke run") and "$PORT" in procs["web"]
    assert procs["clock"] == "hubspoke clock"
    assert procs["worker"] == "hubspoke worker"
    assert procs["release"] == "hubspoke db upgrade"
