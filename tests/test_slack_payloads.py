"""Every request shape Slack sends (bolt-python's own test payloads), signed, at the running bot: none is a 5xx."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
import pytest

from handlers.slack.ids import Action, Command, View
from tests.conftest import SHARED_DATA, Scenario
from tests.fakes.signed import sign

PAYLOADS = SHARED_DATA / "slack-payloads"
HANDLED_EVENTS = {"app_home_opened", "app_mention"}


def payload_files() -> list[Path]:
    if not PAYLOADS.is_dir():
        pytest.skip(f"{PAYLOADS} is absent (shared Slack payloads)")
    files = sorted(PAYLOADS.glob("*.json"))
    if not files:
        pytest.skip(f"{PAYLOADS} holds no payloads")
    return files


def loopback(value: Any, hook_url: str) -> Any:
    """The payload with every response_url (and any hooks.slack.com URL) pointed at the fake's hooks."""
    if isinstance(value, dict):
        return {k: (f"{hook_url}rewritten/{k}" if k == "response_url" and isinstance(v, str) else loopback(v, hook_url))
                for k, v in value.items()}
    if isinstance(value, list):
        return [loopback(v, hook_url) for v in value]
    if isinstance(value, str) and value.startswith("https://hooks.slack.com/"):
        return f"{hook_url}rewritten/{value.removeprefix('https://hooks.slack.com/')}"
    return value


def handled(kind: str, fields: dict[str, Any]) -> bool:
    """True when Hubspoke has a listener for this request (everything else must be a quiet 200)."""
    if kind.startswith("event_callback"):
        return (fields.get("event") or {}).get("type") in HANDLED_EVENTS
    if kind.startswith("slash_command"):
        return fields.get("command") in set(Command)
    if kind in ("view_submission", "view_closed"):
        return (fields.get("view") or {}).get("callback_id") in set(View)
    if kind == "block_actions":
        return any(a.get("action_id") in set(Action) for a in fields.get("actions") or [])
    return False


def build_request(kind: str, payload: Any, hook_url: str, n: int) -> tuple[str, str, dict[str, Any]]:
    """(content type, body, the parsed fields) for a payload file, the way Slack would send it."""
    if isinstance(payload, str):  # a form body captured as-is
        fields = {k: (f"{hook_url}rewritten/{n}" if k == "response_url" else v)
                  for k, v in parse_qsl(payload, keep_blank_values=True)}
        return "application/x-www-form-urlencoded", urlencode(fields), fields
    fields = loopback(payload, hook_url)
    if kind.startswith("event_callback") or fields.get("type") in ("event_callback", "url_verification"):
        if isinstance(fields.get("event_id"), str):
            fields["event_id"] = f"{fields['event_id']}-{n}"  # unique, so de-duplication does not swallow it
        return "application/json", json.dumps(fields), fields
    if kind.startswith("slash_command") or "command" in fields:
        return "application/x-www-form-urlencoded", urlencode({k: str(v) for k, v in fields.items()}), fields
    return "application/x-www-form-urlencoded", urlencode({"payload": json.dumps(fields)}), fields


def test_every_known_slack_payload_is_answered_without_a_server_error(scenario: Scenario) -> None:
    sc = scenario
    files = payload_files()
    answers: list[tuple[str, str, int, tuple[str, str] | None, bool]] = []
    with httpx.Client(timeout=10) as client:
        for n, path in enumerate(files):
            data = json.loads(path.read_text())
            kind, payload = str(data["kind"]), data["payload"]
            content_type, body, fields = build_request(kind, payload, sc.api.hook_url, n)
            headers = {"Content-Type": content_type, **sign(body)}
            r = client.post(sc.slack.url, content=body, headers=headers)
            event: dict[str, Any] = fields["event"] if isinstance(fields.get("event"), dict) else {}
            mention = event.get("type") == "app_mention" and "channel" in event
            thread = (str(event["channel"]), str(event.get("thread_ts") or event.get("ts"))) if mention else None
            answers.append((path.name, kind, r.status_code, thread, handled(kind, fields)))

        # Slack's own handshakes, which no captured payload covers: URL verification and the SSL check.
        body = json.dumps({"token": "legacy", "challenge": "c-123", "type": "url_verification"})
        r = client.post(sc.slack.url, content=body, headers={"Content-Type": "application/json", **sign(body)})
        assert r.status_code == 200 and "c-123" in r.text
        body = urlencode({"ssl_check": "1", "token": "legacy"})
        r = client.post(sc.slack.url, content=body,
                        headers={"Content-Type": "application/x-www-form-urlencoded", **sign(body)})
        assert r.status_code == 200

    server_errors = [a for a in answers if a[2] >= 500]
    assert not server_errors, f"5xx answers: {server_errors}"
    unknown_not_ok = [a for a in answers if not a[4] and a[2] != 200]
    assert not unknown_not_ok, f"payloads Hubspoke does not handle must get a quiet 200: {unknown_not_ok}"
    assert all(a[2] < 400 for a in answers if a[4]), [a for a in answers if a[4]]

    # The handled ones ran against the fake: each mention in a channel is answered in its thread, and the
    # Home tab is only drawn for the Home tab (these app_home_opened payloads are for the Messages tab).
    threads = sorted(a[3] for a in answers if a[3])
    assert threads
    replies = sc.api.wait_for("chat.postMessage", len(threads), timeout=5)
    assert sorted((c.params["channel"], c.params.get("thread_ts")) for c in replies) == threads
    assert all("/usecase" in str(c.params["text"]) for c in replies)
    assert sc.api.of("views.publish") == []
