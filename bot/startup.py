"""Before a process serves Slack: settings that are placeholders or refused are one clear line, not a traceback.

`check_slack` recognises `.env.sample`'s placeholders before any network call, then asks Slack
(`auth.test`) whether it takes the token, and turns each way that can fail into a `NotConfigured`
naming the setting and what to do.
"""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError, SlackClientError

from bot.app import NotConfigured
from bot.settings import Settings

INSTALL_APP = "copy the Bot User OAuth Token (xoxb-…) from your Slack app's Install App page"
REFUSALS = {
    "invalid_auth": INSTALL_APP,
    "not_authed": INSTALL_APP,
    "token_revoked": "the app was uninstalled or the token revoked: reinstall it, then " + INSTALL_APP,
    "token_expired": "the token expired: " + INSTALL_APP,
    "account_inactive": "the workspace or the app's bot user is deactivated: reinstall the app",
}


def is_placeholder(value: str) -> bool:
    """True for the examples in .env.sample (`xoxb-...`, `...`) and the like, which no real secret looks like."""
    stripped = value.strip()
    return not stripped or "..." in stripped or "…" in stripped or stripped.lower() in {"changeme", "todo", "xxx"}


def placeholders(settings: Settings) -> list[str]:
    """The Slack settings still holding an example value, by name."""
    named = {
        "SLACK_BOT_TOKEN": settings.slack_bot_token,
        "SLACK_SIGNING_SECRET": settings.slack_signing_secret,
        "SLACK_APP_TOKEN": settings.slack_app_token,
    }
    return [name for name, secret in named.items() if secret is not None and is_placeholder(secret.get_secret_value())]


def slack_asked(settings: Settings) -> bool:
    """Whether any Slack setting is there (else only Teams is served)."""
    return any(
        v is not None for v in (settings.slack_bot_token, settings.slack_signing_secret, settings.slack_app_token)
    )


def missing_message(settings: Settings) -> str | None:
    """What the chosen platforms still need, or None: Slack (Socket Mode when SLACK_APP_TOKEN is set, else
    HTTP) when any Slack setting is there, and Teams when any Teams credential is."""
    if teams := settings.missing_for_teams():
        return (
            f"cannot serve Teams: {', '.join(teams)} not set. An authenticated Teams bot needs TEAMS_APP_ID, "
            "TEAMS_APP_PASSWORD and TEAMS_TENANT_ID; see README, 'Connect Microsoft Teams'."
        )
    missing = settings.missing_for_slack() if slack_asked(settings) or not settings.teams_enabled else []
    if not missing:
        return None
    if settings.socket_mode:
        needs = "Socket Mode (SLACK_APP_TOKEN is set) needs SLACK_BOT_TOKEN and SLACK_APP_TOKEN"
    else:
        needs = (
            "HTTP mode needs SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET (or set SLACK_APP_TOKEN and "
            "SLACK_BOT_TOKEN for Socket Mode, which needs no public URL)"
        )
    return f"cannot connect to Slack: {', '.join(missing)} not set. {needs}; see README, 'Connect Slack'."


def check_slack(settings: Settings) -> None:
    """Raise NotConfigured, naming the setting and what to do, unless Slack accepts this deployment's token."""
    if found := placeholders(settings):
        raise NotConfigured(
            f"{', '.join(found)} still hold{'s' if len(found) == 1 else ''} the example value from .env.sample: "
            f"{INSTALL_APP} (and the signing secret from Basic Information)."
        )
    if settings.slack_bot_token is None:
        return
    from handlers.slack.app import build_client

    url = settings.slack_api_url or "https://slack.com/api/"
    client = build_client(settings.slack_bot_token.get_secret_value(), settings.slack_api_url)
    quiet = logging.getLogger("slack_sdk")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)  # its retries log each attempt; the one line below says it all
    try:
        client.auth_test()
    except SlackApiError as exc:
        error = str(exc.response.get("error") or "refused")
        advice = REFUSALS.get(error, INSTALL_APP)
        raise NotConfigured(f"SLACK_BOT_TOKEN was refused by Slack ({error}): {advice}.") from None
    except (SlackClientError, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise NotConfigured(f"cannot reach Slack at {url}: {reason}. Check the network, or SLACK_API_URL.") from None
    finally:
        quiet.setLevel(level)
