"""Outbound notices: platform-neutral messages the outbox carries and each ChatPort renders."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, Field, TypeAdapter

from intake.read_models import PersonView, UseCaseView


class ReviewCard(BaseModel):
    """The card a hub reviewer acts on; posted to the hub channel and the reviewer's DM."""

    kind: Literal["review_card"] = "review_card"
    use_case: UseCaseView
    matched_skills: list[str] = []
    note: str | None = None  # e.g. "Reassigned by Ana: she knows the data"


class SelfServeNotice(BaseModel):
    """Tells the hub channel a use case went ahead self-serve, so the hub still sees it."""

    kind: Literal["self_serve"] = "self_serve"
    use_case: UseCaseView


class Receipt(BaseModel):
    """Tells the submitter where their use case went and why."""

    kind: Literal["receipt"] = "receipt"
    use_case: UseCaseView
    resubmitted: bool = False


class Outcome(BaseModel):
    """Tells the submitter the hub's decision and the reason."""

    kind: Literal["outcome"] = "outcome"
    use_case: UseCaseView


class ReviewNudge(BaseModel):
    """Reminds a reviewer of a review that has waited, or escalates it to the hub."""

    kind: Literal["review_nudge"] = "review_nudge"
    use_case: UseCaseView
    waited_hours: float
    escalation: bool = False
    leads: list[PersonView] = []


class BusFactorNotice(BaseModel):
    """Tells the hub that a topic people ask about rests on one person."""

    kind: Literal["bus_factor"] = "bus_factor"
    topic: str
    expert: PersonView


class Refusal(BaseModel):
    """Tells the person who clicked why their click changed nothing (already decided, not allowed...)."""

    kind: Literal["refusal"] = "refusal"
    text: str
    at: dt.datetime | None = None  # when what it refers to happened (who decided first, and when)


Notice = Annotated[
    ReviewCard | SelfServeNotice | Receipt | Outcome | ReviewNudge | BusFactorNotice | Refusal,
    Field(discriminator="kind"),
]
NOTICE = TypeAdapter(Notice)

HUB = "hub"  # outbox destination meaning "the hub channel", resolved by each platform


def card_key(use_case_id: int, round_: int) -> str:
    """The key under which every copy of a review card is remembered, for in-place updates."""
    return f"uc:{use_case_id}:r{round_}:card"
