"""Correctly signed Slack requests (slash commands, interactivity, events) sent over real HTTP."""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
from slack_sdk.signature import SignatureVerifier

SIGNING_SECRET = "test-signing-secret-0123456789abcdef"
_counter = itertools.count(1)


def sign(body: str, secret: str = SIGNING_SECRET, timestamp: int | None = None) -> dict[str, str]:
    """Headers Slack would send with `body`."""
    ts = str(timestamp if timestamp is not None else int(time.time()))
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature or ""}


@dataclass
class SlackUser:
    id: str
    name: str


@dataclass
class SignedSlack:
    """Sends what Slack sends, signed, to `url` (the bot's /slack/events)."""

    url: str
    hook_url: str
    secret: str = SIGNING_SECRET
    client: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=10))

    def post_form(
        self,
        form: dict[str, str],
        *,
        secret: str | None = None,
        timestamp: int | None = None,
        extra_headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        body = urlencode(form)
        headers = {"Content-Type": "application/x-www-form-urlencoded", **sign(body, secret or self.secret, timestamp)}
        return self.client.post(self.url, content=body, headers={**headers, **(extra_headers or {})})

    def post_json(self, payload: dict[str, Any], extra_headers: dict[str, str] | None = None) -> httpx.Response:
        body = json.dumps(payload)
        headers = {"Content-Type": "application/json", **sign(body, self.secret), **(extra_headers or {})}
        return self.client.post(self.url, content=body, headers=headers)

    def command(self, user: SlackUser, command: str, text: str = "", channel: str = "C_SPOKE") -> httpx.Response:
        n = next(_counter)
        return self.post_form(
            {
                "token": "legacy",
                "team_id": "T111",
                "team_domain": "hub",
                "channel_id": channel,
                "channel_name": "spoke",
                "user_id": user.id,
                "user_name": user.name,
                "command": command,
                "text": text,
                "api_app_id": "A111",
                "is_enterprise_install": "false",
                "response_url": f"{self.hook_url}commands/{n}",
                "trigger_id": f"{n}.trigger",
            }
        )

    def interactive(self, payload: dict[str, Any]) -> httpx.Response:
        return self.post_form({"payload": json.dumps(payload)})

    def click(
        self,
        user: SlackUser,
        action_id: str,
        value: str | None = None,
        *,
        message: dict[str, Any] | None = None,
        selected_user: str | None = None,
        channel: str = "C_HUB",
    ) -> httpx.Response:
        """A button (or users_select) click on a message."""
        n = next(_counter)
        action: dict[str, Any] = {"action_id": action_id, "block_id": "b", "action_ts": f"{time.time():.6f}"}
        if selected_user is not None:
            action.update(type="users_select", selected_user=selected_user)
        else:
            action.update(type="button", value=value, text={"type": "plain_text", "text": "Button"})
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": {"id": user.id, "username": user.name, "name": user.name, "team_id": "T111"},
            "api_app_id": "A111",
            "token": "legacy",
            "trigger_id": f"{n}.trigger",
            "team": {"id": "T111", "domain": "hub"},
            "container": {"type": "message", "message_ts": "1.1", "channel_id": channel, "is_ephemeral": False},
            "channel": {"id": channel, "name": "hub"},
            "response_url": f"{self.hook_url}actions/{n}",
            "actions": [action],
        }
        if message is not None:
            payload["message"] = message
        return self.interactive(payload)

    def submit_view(self, user: SlackUser, view: dict[str, Any], values: dict[str, dict[str, Any]]) -> httpx.Response:
        """Submit a modal the bot opened, with `values` as Slack's view.state.values."""
        payload = {
            "type": "view_submission",
            "team": {"id": "T111", "domain": "hub"},
            "user": {"id": user.id, "username": user.name, "name": user.name, "team_id": "T111"},
            "api_app_id": "A111",
            "token": "legacy",
            "trigger_id": f"{next(_counter)}.trigger",
            # The id and hash Slack gave the opened view (see FakeSlack's views.open): a replay repeats them.
            "view": {"id": "V1", "hash": "1.abc", **view, "team_id": "T111", "state": {"values": values}},
        }
        return self.interactive(payload)

    def event(self, event: dict[str, Any], event_id: str | None = None, retry_num: int | None = None) -> httpx.Response:
        payload = {
            "token": "legacy",
            "team_id": "T111",
            "api_app_id": "A111",
            "event": event,
            "type": "event_callback",
            "event_id": event_id or f"Ev{next(_counter):08d}",
            "event_time": int(time.time()),
        }
        headers = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"} if retry_num else None
        return self.post_json(payload, headers)


def text_input(value: str) -> dict[str, Any]:
    return {"value": {"type": "plain_text_input", "value": value}}


def select(value: str | None, kind: str = "static_select") -> dict[str, Any]:
    return {"value": {"type": kind, "selected_option": {"value": value} if value else None}}


def date(value: str | None) -> dict[str, Any]:
    return {"value": {"type": "datepicker", "selected_date": value}}


def user_select(user_id: str | None) -> dict[str, Any]:
    return {"value": {"type": "users_select", "selected_user": user_id}}
