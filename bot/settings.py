"""Settings read from the environment (and an optional `.env` file); secrets stay SecretStr."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from intake.calendar import parse_calendar_code, parse_hours
from intake.errors import HubError

DEFAULT_DATABASE_URL = "sqlite:///hubspoke.db"
T = TypeVar("T")


def _calendar_check(parse: Callable[[str], T], value: str) -> T:
    """A calendar setting read as chat reads it; its refusal becomes pydantic's (the CLI names the variable)."""
    try:
        return parse(value)
    except HubError as exc:
        raise ValueError(exc.message) from None


class Settings(BaseSettings):
    """Everything Hubspoke reads from its environment; see README "Configuration"."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str | None = Field(
        default=None, description="Web API base URL override, e.g. https://slack.com/api/"
    )
    database_url: str = DEFAULT_DATABASE_URL
    database_connect_timeout: float = Field(default=5.0, gt=0, description="seconds to wait for a connection")
    database_statement_timeout: float = Field(default=5.0, gt=0, description="seconds a query may run")
    outbox_in_process: bool | None = Field(
        default=None, description="deliver the outbox in the web process; unset: only on the embedded SQLite"
    )
    outbox_concurrency: int = Field(default=8, ge=1, le=64, description="sends in flight per worker")
    outbox_nice: int = Field(
        default=10, ge=0, le=19, description="how much lower the CPU priority of delivery threads is (0: the same)"
    )
    slack_post_interval: float = Field(
        default=1.0, ge=0, description="seconds between two posts to one Slack conversation (Slack allows ~1/s)"
    )
    slack_workspace_rate: float | None = Field(
        default=None, gt=0, le=1000, description="posts a second this process sends to the workspace (unset: no limit)"
    )
    hub_channel: str | None = Field(default=None, description="Slack channel id of the hub")
    teams_app_id: str | None = Field(default=None, description="the bot's Microsoft app (client) id")
    teams_app_password: SecretStr | None = Field(default=None, description="the bot's client secret")
    teams_tenant_id: str | None = Field(default=None, description="the tenant of a single-tenant bot")
    teams_hub_channel: str | None = Field(default=None, description="the Teams hub channel's conversation id")
    teams_allow_unauthenticated: bool = Field(
        default=False, description="accept unsigned requests at /api/messages (local development and tests only)"
    )
    hub_leads: Annotated[frozenset[str], NoDecode] = frozenset()
    hub_timezone: str = "UTC"
    hub_working_hours: str = Field(default="09:00-17:00", description="when messages to people arrive, HH:MM-HH:MM")
    hub_holidays: str = Field(default="", description="public holidays the hub keeps: GB-ENG, US-NY…; empty: none")
    review_reminder_hours: float = Field(default=8.0, gt=0, description="working hours: one working day")
    review_escalation_hours: float = Field(default=24.0, gt=0, description="working hours: three working days")
    retro_followup_weeks: float = Field(default=6.0, gt=0, description="weeks after deployment the follow-up retro")
    retro_reminder_days: float = Field(default=7.0, gt=0, description="days before an unwritten retro is reminded")
    openai_api_key: SecretStr | None = Field(default=None, description="key of the OpenAI-compatible endpoint")
    openai_base_url: str | None = Field(
        default=None, description="an OpenAI-compatible endpoint, e.g. http://ollama:11434/v1"
    )
    llm_chat_model: str = Field(default="gpt-4o-mini", description="the chat model for structured answers")
    llm_embedding_model: str = Field(default="text-embedding-3-small", description="the embedding model")
    llm_timeout: float = Field(default=10.0, gt=0, le=120, description="seconds an LLM request may take")
    llm_daily_token_budget: int = Field(default=200_000, ge=0, description="tokens a day; spent: features fall back")
    llm_fields: Annotated[frozenset[str], NoDecode] = Field(
        default=frozenset(), description="use case fields that may be sent to the endpoint (empty: all)"
    )
    expertise_taxonomy_file: Path | None = Field(default=None, description="extra skills taxonomy (TOML)")
    expertise_half_life_days: float = Field(default=365.0, gt=0)
    expertise_ranking: dict[str, Any] = Field(default_factory=dict, description="RankingConfig overrides, as JSON")
    similarity_tuning: dict[str, Any] = Field(
        default_factory=dict, description="duplicates by meaning: fusion, weight, floor, threshold overrides, as JSON"
    )

    @field_validator("llm_fields", mode="before")
    @classmethod
    def _split_fields(cls, value: object) -> object:
        if isinstance(value, str):
            return frozenset(part.strip() for part in value.split(",") if part.strip())
        return value

    @property
    def llm_enabled(self) -> bool:
        """An LLM endpoint is configured (a key, or a base URL of a self-hosted server that needs none)."""
        return self.openai_api_key is not None or bool(self.openai_base_url)

    @field_validator("hub_leads", mode="before")
    @classmethod
    def _split_leads(cls, value: object) -> object:
        if isinstance(value, str):
            return frozenset(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("hub_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (use an IANA name like Europe/London)") from exc
        return value

    @field_validator("hub_working_hours")
    @classmethod
    def _known_hours(cls, value: str) -> str:
        start, end = _calendar_check(parse_hours, value)
        return f"{start:%H:%M}-{end:%H:%M}"

    @field_validator("hub_holidays")
    @classmethod
    def _known_calendar(cls, value: str) -> str:
        return _calendar_check(parse_calendar_code, value) if value.strip() else ""

    @field_validator("slack_api_url")
    @classmethod
    def _trailing_slash(cls, value: str | None) -> str | None:
        # slack_sdk joins method names onto base_url, so it must end with a slash.
        if value and not value.endswith("/"):
            return value + "/"
        return value or None

    @property
    def socket_mode(self) -> bool:
        """True when an app-level token is set, so Slack connects over Socket Mode."""
        return self.slack_app_token is not None

    def missing_for_slack(self) -> list[str]:
        """Names of the variables Slack needs that are not set."""
        missing = []
        if self.slack_bot_token is None:
            missing.append("SLACK_BOT_TOKEN")
        if self.slack_signing_secret is None and not self.socket_mode:
            missing.append("SLACK_SIGNING_SECRET")
        return missing

    @property
    def teams_enabled(self) -> bool:
        """True when Teams is configured (credentials), or explicitly served without them (development)."""
        return bool(self.teams_app_id or self.teams_app_password or self.teams_allow_unauthenticated)

    def missing_for_teams(self) -> list[str]:
        """Names of the variables an authenticated Teams bot needs that are not set (none when it is not asked for).

        Teams is asked for when any of its credentials is set; without them, `TEAMS_ALLOW_UNAUTHENTICATED=true`
        serves it unauthenticated.
        """
        named = {
            "TEAMS_APP_ID": self.teams_app_id,
            "TEAMS_APP_PASSWORD": self.teams_app_password,
            "TEAMS_TENANT_ID": self.teams_tenant_id,
        }
        if not any(named.values()):
            return []
        return [name for name, value in named.items() if not value]

    @property
    def embedded_database(self) -> bool:
        """True on the embedded SQLite default, where one process does everything."""
        return self.database_url.startswith("sqlite")

    @property
    def delivers_in_process(self) -> bool:
        """Whether `hubspoke run` delivers the outbox itself (else `hubspoke worker` does)."""
        return self.embedded_database if self.outbox_in_process is None else self.outbox_in_process

    @property
    def zone(self) -> ZoneInfo:
        """The hub's time zone, for schedules and people whose own zone is unknown."""
        return ZoneInfo(self.hub_timezone)
