"""The use-case vocabulary: answer choices, lifecycle stages, and the intake submission model."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, Field, field_validator

from intake.text import clean_text


class Sensitivity(StrEnum):
    NONE = "none"
    INTERNAL = "internal"
    PERSONAL = "personal"
    REGULATED = "regulated"


class Affected(StrEnum):
    INTERNAL = "internal"
    CUSTOMERS = "customers"
    PUBLIC = "public"


class Autonomy(StrEnum):
    ASSISTIVE = "assistive"
    HUMAN_IN_THE_LOOP = "human_in_the_loop"
    AUTOMATED = "automated"


class DataAvailability(StrEnum):
    AVAILABLE = "available"
    NEEDS_ACCESS = "needs_access"
    NOT_YET_COLLECTED = "not_yet_collected"


class RiskTier(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class Route(StrEnum):
    SELF_SERVE = "self_serve"
    HUB_REVIEW = "hub_review"


class Status(StrEnum):
    """Where a use case stands with the hub (separate from its lifecycle stage)."""

    IN_REVIEW = "in_review"
    CHANGES_REQUESTED = "changes_requested"
    APPROVED = "approved"
    SELF_SERVE = "self_serve"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"  # its owner (or a lead closing it) took it out of review


class Stage(StrEnum):
    IDEATION = "ideation"
    EXPERIMENTATION = "experimentation"
    PRODUCTION_ENGINEERING = "production_engineering"
    DEPLOYMENT = "deployment"
    MONITORING = "monitoring"
    CLOSED = "closed"


class Decision(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    REQUEST_CHANGES = "request_changes"
    # Not a reviewer's decision: the round ended because the use case left review (withdrawn, or closed).
    WITHDRAWN = "withdrawn"


# One table per enum: several enums share values ("internal", "self_serve"), so a flat dict would clash.
LABELS: dict[type[StrEnum], dict[str, str]] = {
    Sensitivity: {
        Sensitivity.NONE: "No sensitive data",
        Sensitivity.INTERNAL: "Internal business data",
        Sensitivity.PERSONAL: "Personal data",
        Sensitivity.REGULATED: "Regulated data (health, financial, legal)",
    },
    Affected: {
        Affected.INTERNAL: "Internal staff only",
        Affected.CUSTOMERS: "Customers",
        Affected.PUBLIC: "The public",
    },
    Autonomy: {
        Autonomy.ASSISTIVE: "Assistive: a person uses the output",
        Autonomy.HUMAN_IN_THE_LOOP: "Human-in-the-loop: a person approves each output",
        Autonomy.AUTOMATED: "Automated: acts without a person",
    },
    DataAvailability: {
        DataAvailability.AVAILABLE: "Available now",
        DataAvailability.NEEDS_ACCESS: "Exists, access needed",
        DataAvailability.NOT_YET_COLLECTED: "Not collected yet",
    },
    RiskTier: {
        RiskTier.LOW: "Low",
        RiskTier.MEDIUM: "Medium",
        RiskTier.HIGH: "High",
    },
    Status: {
        Status.IN_REVIEW: "In hub review",
        Status.CHANGES_REQUESTED: "Changes requested",
        Status.APPROVED: "Approved",
        Status.SELF_SERVE: "Self-serve (go ahead)",
        Status.REJECTED: "Rejected",
        Status.WITHDRAWN: "Withdrawn",
    },
    Stage: {
        Stage.IDEATION: "Ideation",
        Stage.EXPERIMENTATION: "Experimentation",
        Stage.PRODUCTION_ENGINEERING: "Production engineering",
        Stage.DEPLOYMENT: "Deployment",
        Stage.MONITORING: "Monitoring",
        Stage.CLOSED: "Closed",
    },
    Decision: {
        Decision.APPROVE: "Approved",
        Decision.REJECT: "Rejected",
        Decision.REQUEST_CHANGES: "Changes requested",
        Decision.WITHDRAWN: "Withdrawn",
    },
}


def label(value: StrEnum) -> str:
    """The human label of a choice."""
    return LABELS.get(type(value), {}).get(value.value, value.value.replace("_", " ").capitalize())


def parse_stage(text: str) -> Stage | None:
    """A stage from what a person typed: `production engineering`, `production_engineering`, `Deployment`."""
    key = "_".join(text.strip().lower().replace("-", " ").split())
    try:
        return Stage(key)
    except ValueError:
        return None


MAX_TITLE = 120
# In Slack's mrkdwn `<url|label>` a `|` starts the label, so `https://evil.example/x|https://intranet.example`
# would show one address and open another; `<`, `>` and quotes end or break a link on other surfaces.
LINK_FORBIDDEN = frozenset('|<>"`\\')
MAX_TEXT = 2500


class Submission(BaseModel):
    """The answers a spoke gives at intake; the same model backs the modal, the console and imports."""

    model_config = ConfigDict(str_strip_whitespace=True, frozen=True)

    title: str = Field(min_length=3, max_length=MAX_TITLE)
    problem: str = Field(min_length=10, max_length=MAX_TEXT)
    department: str = Field(min_length=1, max_length=80)
    benefit: str = Field(min_length=3, max_length=MAX_TEXT)
    success_metric: str = Field(min_length=3, max_length=500)
    data_sources: str = Field(default="", max_length=1000)
    data_availability: DataAvailability
    data_sensitivity: Sensitivity
    people_affected: Affected
    autonomy: Autonomy
    target_date: dt.date | None = None
    links: tuple[str, ...] = ()

    @field_validator("*", mode="before")
    @classmethod
    def _clean(cls, value: object) -> object:
        # Whatever surface it came from: no NUL or control bytes, no lone surrogates (every backend stores it).
        return clean_text(value) if isinstance(value, str) else value

    @field_validator("links", mode="before")
    @classmethod
    def _split_links(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part for part in value.replace(",", " ").split() if part)
        return value

    @field_validator("links")
    @classmethod
    def _links_are_urls(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for link in value:
            shown = link if len(link) <= 80 else link[:79] + "…"
            if bad := next((c for c in link if c in LINK_FORBIDDEN), None):
                raise ValueError(f"\"{shown}\" contains '{bad}', which chat apps read as the end of a link; remove it")
            parsed = urlparse(link)
            if parsed.scheme not in ("http", "https") or not parsed.hostname:
                raise ValueError(f'"{shown}" is not a web link: links start with https://')
            if len(link) > 500:
                raise ValueError(f'"{shown}" is longer than 500 characters')
        if len(value) > 10:
            raise ValueError("at most 10 links")
        return value

    @field_validator("success_metric", mode="before")
    @classmethod
    def _metric_is_specific(cls, value: object) -> object:
        if isinstance(value, str) and value.strip().lower() in {
            "tbd",
            "n/a",
            "na",
            "-",
            "none",
            "todo",
            "unknown",
            "?",
        }:
            raise ValueError("name the business metric this should move, e.g. 'handling time -20%'")
        return value

    def check_target_date(self, today: dt.date) -> str | None:
        """An error message if the target date is already past."""
        if self.target_date is not None and self.target_date < today:
            return "The target date is in the past."
        return None
