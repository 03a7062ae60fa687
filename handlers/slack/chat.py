"""The Slack ChatPort: renders notices with the Block Kit builders and sends them with the Web API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from bot.chat import DeliveryError, Posted, Profile, Recipient
from handlers.slack import blocks
from intake.notices import (
    HUB,
    BusFactorNotice,
    Notice,
    Outcome,
    Receipt,
    Refusal,
    Reopened,
    ReviewCard,
    ReviewNudge,
    SelfServeNotice,
    StageMoved,
    Withdrawn,
)
from intake.people import SLACK

RENDER: dict[type, Callable[[Any], tuple[str, blocks.Blocks]]] = {
    ReviewCard: blocks.build_review_card,
    SelfServeNotice: blocks.build_self_serve_notice,
    Receipt: blocks.build_receipt,
    Outcome: blocks.build_outcome,
    ReviewNudge: blocks.build_nudge,
    BusFactorNotice: blocks.build_bus_factor,
    StageMoved: blocks.build_stage_moved,
    Withdrawn: blocks.build_withdrawn,
    Reopened: blocks.build_reopened,
    Refusal: blocks.build_refusal,
}

# Errors that retrying will not fix; everything else (rate limits, 5xx, timeouts) is retried.
PERMANENT = {
    "channel_not_found",
    "not_in_channel",
    "is_archived",
    "invalid_auth",
    "account_inactive",
    "user_not_found",
    "cannot_dm_bot",
    "invalid_blocks",
    "msg_too_long",
    "no_text",
    "message_not_found",
    "cant_update_message",
    "edit_window_closed",
    "missing_scope",
    "not_authed",
}


def render(notice: Notice) -> tuple[str, blocks.Blocks]:
    """The fallback text and blocks for a notice."""
    return RENDER[type(notice)](notice)


# The Web API method (Slack's rate-limit bucket) each outbox operation calls.
BUCKETS = {"post": "chat.postMessage", "update": "chat.update", "profile": "users.info", "reply": "response_url"}


class SlackChat:
    """Sends notices to Slack; the hub channel comes from HUB_CHANNEL."""

    platform = "slack"

    def __init__(self, client: WebClient, hub_channel: str | None, *, post_interval: float = 1.0) -> None:
        self._client = client
        self._hub_channel = hub_channel
        # Tests and benchmarks point the Web API at a loopback fake; its response_urls are loopback too.
        base = client.base_url or ""
        self._loopback_hooks = base.rsplit("/api/", 1)[0] + "/hooks/" if "127.0.0.1" in base else "https://"
        self.post_interval = post_interval  # Slack allows about one message a second per conversation

    def bucket(self, operation: str) -> str:
        return BUCKETS.get(operation, operation)

    def fetch_profile(self, to: Recipient) -> Profile | None:
        """The person's Slack profile: display (or real) name, time zone, e-mail when the scope allows."""
        user_id = to.handle(SLACK)
        if not user_id:
            return None
        user = self._call(self._client.users_info, user=user_id)["user"]
        profile = user.get("profile") or {}
        name = profile.get("display_name") or profile.get("real_name") or user.get("real_name") or user.get("name")
        return Profile(name=name or None, tz=user.get("tz") or None, email=profile.get("email") or None)

    def post(self, notice: Notice, *, channel: str | None = None, to: Recipient | None = None) -> Posted:
        if to is not None:
            user_id = to.handle(SLACK)
            if not user_id:
                raise DeliveryError(f"{to.name} has no Slack account", permanent=True)
            target = user_id  # posting to a user id lands in their DM with the app
        elif channel == HUB:
            if not self._hub_channel:
                raise DeliveryError("HUB_CHANNEL is not set", permanent=True)
            target = self._hub_channel
        else:
            target = channel or ""
        text, body = render(notice)
        response = self._call(self._client.chat_postMessage, channel=target, text=text, blocks=body, unfurl_links=False)
        return Posted(channel=str(response["channel"]), ts=str(response["ts"]))

    def update(self, posted: Posted, notice: Notice) -> None:
        text, body = render(notice)
        self._call(self._client.chat_update, channel=posted.channel, ts=posted.ts, text=text, blocks=body)

    def reply(self, address: str, notice: Notice) -> None:
        """An ephemeral answer through the response_url a (verified) request gave."""
        if not address.startswith("https://") and not address.startswith(self._loopback_hooks):
            raise DeliveryError("not a Slack response_url", permanent=True)
        text, body = render(notice)
        try:
            response = WebhookClient(address, timeout=20).send(
                text=text, blocks=body or None, response_type="ephemeral", replace_original=False
            )
        except OSError as exc:
            raise DeliveryError(f"Slack unreachable: {exc}") from exc
        if response.status_code == 429:
            raise DeliveryError("rate limited by Slack", retry_after=float(response.headers.get("retry-after", 5)))
        if response.status_code >= 500:
            raise DeliveryError(f"Slack said HTTP {response.status_code}")
        if response.status_code >= 400:  # expired (30 minutes) or used up (5 answers): nothing to retry
            refused = f"response_url refused: HTTP {response.status_code} {response.body[:80]}"
            raise DeliveryError(refused, permanent=True)

    @staticmethod
    def _call(method: Callable[..., Any], **kwargs: Any) -> Any:
        try:
            return method(**kwargs)
        except SlackApiError as exc:
            status = exc.response.status_code
            error = str(exc.response.get("error", "")) if exc.response is not None else ""
            if status == 429:
                headers = {k.lower(): v for k, v in (exc.response.headers or {}).items()}
                value = headers.get("retry-after", "30")
                retry_after = float(value[0] if isinstance(value, list) else value)
                raise DeliveryError("rate limited by Slack", retry_after=retry_after) from exc
            raise DeliveryError(f"Slack said {error or status}", permanent=error in PERMANENT) from exc
        except OSError as exc:  # connection refused, timeouts: Slack is unreachable for now
            raise DeliveryError(f"Slack unreachable: {exc}") from exc
