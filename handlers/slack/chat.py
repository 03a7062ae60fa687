"""The Slack ChatPort: renders notices with the Block Kit builders and sends them with the Web API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.error import HTTPError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.webhook import WebhookClient

from bot.chat import DeliveryError, Posted, Profile, Recipient
from handlers.slack import blocks
from handlers.slack.experts import build_experts
from intake.notices import (
    HUB,
    BudgetSpent,
    BusFactorNotice,
    Digest,
    DraftReady,
    DuplicateFlagged,
    DuplicatesFound,
    ExpertsAnswer,
    Files,
    Notice,
    Outcome,
    PortfolioChart,
    Receipt,
    Refusal,
    Reopened,
    RetroPrompt,
    ReviewCard,
    ReviewNudge,
    SelfServeNotice,
    SharedProblem,
    ShowcaseAgenda,
    ShowcaseInvitation,
    StageMoved,
    Unreachable,
    Withdrawn,
)
from intake.people import SLACK

RENDER: dict[type, Callable[[Any], tuple[str, blocks.Blocks]]] = {
    ReviewCard: blocks.build_review_card,
    SelfServeNotice: blocks.build_self_serve_notice,
    Receipt: blocks.build_receipt,
    DuplicatesFound: blocks.build_duplicates_found,
    ExpertsAnswer: lambda n: _experts(n),
    Outcome: blocks.build_outcome,
    ReviewNudge: blocks.build_nudge,
    BusFactorNotice: blocks.build_bus_factor,
    StageMoved: blocks.build_stage_moved,
    Withdrawn: blocks.build_withdrawn,
    Reopened: blocks.build_reopened,
    DuplicateFlagged: blocks.build_duplicate_flagged,
    SharedProblem: blocks.build_shared_problem,
    Digest: blocks.build_digest,
    RetroPrompt: blocks.build_retro_prompt,
    ShowcaseInvitation: blocks.build_showcase_invitation,
    ShowcaseAgenda: blocks.build_showcase_agenda,
    Unreachable: blocks.build_unreachable,
    DraftReady: blocks.build_draft_ready,
    BudgetSpent: blocks.build_budget_spent,
    Refusal: blocks.build_refusal,
    PortfolioChart: blocks.build_portfolio_chart,
    Files: blocks.build_files,
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
    "user_disabled",
    "invalid_channel",
    "invalid_arguments",
    "file_uploads_disabled",
    "file_uploads_except_images_disabled",
    "posting_to_general_channel_denied",
    "restricted_action",
}
ALT_TEXT_LIMIT = 1000  # Slack's limit on an image's alt text (files.getUploadURLExternal)


def render(notice: Notice) -> tuple[str, blocks.Blocks]:
    """The fallback text and blocks for a notice."""
    return RENDER[type(notice)](notice)


def comment_text(notice: Notice) -> str:
    """A notice's words as one mrkdwn string (a file upload's initial comment): its sections and small print."""
    text, body = render(notice)
    parts = [b["text"]["text"] for b in body if b["type"] == "section" and "text" in b]
    parts += [e["text"] for b in body if b["type"] == "context" for e in b["elements"]]
    return "\n".join(parts) or text


def alt_text(text: str) -> str:
    """Alt text clipped to Slack's limit (plain text: nothing to escape)."""
    return text if len(text) <= ALT_TEXT_LIMIT else text[: ALT_TEXT_LIMIT - 1] + "…"


# The Web API method (Slack's rate-limit bucket) each outbox operation calls.
BUCKETS = {"post": "chat.postMessage", "update": "chat.update", "profile": "users.info", "reply": "response_url"}


def _experts(notice: ExpertsAnswer) -> tuple[str, blocks.Blocks]:
    return build_experts(notice.result, notice.result.as_of)


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
        if isinstance(notice, PortfolioChart | Files):
            return self._upload(notice, self._conversation(channel, to))
        text, body = render(notice)
        target = self._target(channel, to)  # posting to a user id lands in their DM with the app
        response = self._call(self._client.chat_postMessage, channel=target, text=text, blocks=body, unfurl_links=False)
        return Posted(channel=str(response["channel"]), ts=str(response["ts"]))

    def _target(self, channel: str | None, to: Recipient | None) -> str:
        """The channel id, or for a person their Slack user id."""
        if to is not None:
            user_id = to.handle(SLACK)
            if not user_id:
                raise DeliveryError(f"{to.name} has no Slack account", permanent=True)
            return user_id
        if channel == HUB:
            if not self._hub_channel:
                raise DeliveryError("HUB_CHANNEL is not set", permanent=True)
            return self._hub_channel
        return channel or ""

    def _conversation(self, channel: str | None, to: Recipient | None) -> str:
        """A conversation id: files are shared into a channel, so a person's DM is opened first (D…)."""
        target = self._target(channel, to)
        if to is None:
            return target
        response = self._call(self._client.conversations_open, users=target)
        return str(response["channel"]["id"])

    def _upload(self, notice: PortfolioChart | Files, channel: str) -> Posted:
        """Upload the chart (a PNG) or the files into `channel`, with the notice's words as the comment."""
        comment = comment_text(notice)
        if isinstance(notice, PortfolioChart):
            # matplotlib loads only when a chart is drawn, not whenever the Slack port is imported.
            from bot.charts import draw_portfolio

            chart = draw_portfolio(notice)
            response = self._call(
                self._client.files_upload_v2,
                content=chart.png,
                filename=chart.filename,
                title=chart.title,
                alt_txt=alt_text(chart.alt),
                channel=channel,
                initial_comment=comment,
            )
        else:
            if not notice.files:
                raise DeliveryError("no files to send", permanent=True)
            uploads = [{"content": f.content, "filename": f.name, "title": f.name} for f in notice.files]
            response = self._call(
                self._client.files_upload_v2, file_uploads=uploads, channel=channel, initial_comment=comment
            )
        files = response.get("files") or []
        if not files:
            raise DeliveryError("Slack shared no file")
        return Posted(channel=channel, ts=str(files[0]["id"]))

    def update(self, posted: Posted, notice: Notice) -> None:
        if isinstance(notice, PortfolioChart | Files):  # Posted.ts is a file id: there is no message to edit
            raise DeliveryError("an uploaded file cannot be edited", permanent=True)
        text, body = render(notice)
        self._call(self._client.chat_update, channel=posted.channel, ts=posted.ts, text=text, blocks=body)

    def reply(self, address: str, notice: Notice) -> None:
        """An ephemeral answer through the response_url a (verified) request gave."""
        if not address.startswith("https://") and not address.startswith(self._loopback_hooks):
            raise DeliveryError("not a Slack response_url", permanent=True)
        text, body = render(notice)
        try:
            # A deferred answer takes the place of its "Looking…" line; anything else is said below what was there.
            replace = isinstance(notice, ExpertsAnswer) and notice.result.offset == 0
            response = WebhookClient(address, timeout=20).send(
                text=text, blocks=body or None, response_type="ephemeral", replace_original=replace
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
        except HTTPError as exc:  # files_upload_v2 posting to the upload URL: its only request outside the Web API
            if exc.code == 429:
                retry_after = float(exc.headers.get("Retry-After") or 30)
                raise DeliveryError("rate limited by Slack", retry_after=retry_after) from exc
            # A new attempt asks for a new upload URL; only a file too large for Slack can never go.
            raise DeliveryError(f"file upload refused: HTTP {exc.code}", permanent=exc.code == 413) from exc
        except SlackRequestError as exc:
            # files_upload_v2 raises it for an upload URL answering other than 200 (worth retrying), and for a
            # file it will not send at all (too large, no content).
            upload_failed = str(exc).startswith("Failed to upload a file")
            raise DeliveryError(f"file upload failed: {exc}", permanent=not upload_failed) from exc
        except OSError as exc:  # connection refused, timeouts: Slack is unreachable for now
            raise DeliveryError(f"Slack unreachable: {exc}") from exc
