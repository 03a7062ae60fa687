"""Triage: the risk tier derived from the answers, and whether the hub's guidelines allow self-serve."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from intake.schema import (
    Affected,
    Autonomy,
    DataAvailability,
    RiskTier,
    Route,
    Sensitivity,
    Submission,
    label,
)

_TIER_ORDER = [RiskTier.LOW, RiskTier.MEDIUM, RiskTier.HIGH]


class Guidelines(BaseModel):
    """What the hub lets go ahead without review; leads change it with `/hub guidelines set`."""

    model_config = ConfigDict(extra="forbid")

    self_serve: bool = Field(default=True, description="allow self-serve at all")
    self_serve_sensitivity: list[Sensitivity] = Field(
        default=[Sensitivity.NONE, Sensitivity.INTERNAL],
        description="data sensitivities allowed for self-serve",
    )
    self_serve_requires_available_data: bool = Field(
        default=True, description="self-serve only when the data is available now"
    )
    any_reviewer_decides: bool = Field(
        default=False, description="any hub reviewer may decide a review, not only the one it is assigned to"
    )
    # The hub's limits (the portfolio): not triage rules, but set and shown the same way.
    wip_limit: int = Field(
        default=0, ge=0, le=100_000, description="use cases in active stages the hub takes on at once (0: no limit)"
    )
    innovation_band: tuple[int, int] = Field(
        default=(10, 20), description="target share (%) of live use cases still in ideation or experimentation"
    )


class Triage(BaseModel):
    """The outcome of triage with the reasons a person can check."""

    tier: RiskTier
    route: Route
    reasons: list[str]


def risk_tier(sub: Submission) -> tuple[RiskTier, list[str]]:
    """The risk tier and the answers that raised it."""
    tier = RiskTier.LOW
    reasons: list[str] = []

    def raise_to(new: RiskTier, why: str) -> None:
        nonlocal tier
        if _TIER_ORDER.index(new) > _TIER_ORDER.index(tier):
            tier = new
        reasons.append(f"{label(new)}: {why}")

    if sub.data_sensitivity is Sensitivity.REGULATED:
        raise_to(RiskTier.HIGH, "uses regulated data")
    elif sub.data_sensitivity is Sensitivity.PERSONAL:
        raise_to(RiskTier.MEDIUM, "uses personal data")

    external = sub.people_affected is not Affected.INTERNAL
    who = label(sub.people_affected).lower()
    if sub.autonomy is Autonomy.AUTOMATED:
        if external:
            raise_to(RiskTier.HIGH, f"acts automatically on {who}")
        elif sub.data_sensitivity is Sensitivity.PERSONAL:
            raise_to(RiskTier.HIGH, "acts automatically on personal data")
        else:
            raise_to(RiskTier.MEDIUM, "acts without a person checking")
    elif external:
        raise_to(RiskTier.MEDIUM, f"affects {who}")

    if not reasons:
        reasons.append("Low: internal or no sensitive data, internal users, a person stays in charge")
    return tier, reasons


def triage(sub: Submission, guidelines: Guidelines) -> Triage:
    """Decide whether the use case can go ahead self-serve or needs hub review, and why."""
    tier, reasons = risk_tier(sub)
    blockers: list[str] = []
    if tier is not RiskTier.LOW:
        blockers.append(f"{label(tier).lower()} risk needs hub review")
    if not guidelines.self_serve:
        blockers.append("the hub reviews every use case for now")
    if sub.data_sensitivity not in guidelines.self_serve_sensitivity:
        blockers.append(f"{label(sub.data_sensitivity).lower()} is outside the self-serve guidelines")
    if guidelines.self_serve_requires_available_data and sub.data_availability is not DataAvailability.AVAILABLE:
        blockers.append("the data is not available yet")
    if blockers:
        return Triage(tier=tier, route=Route.HUB_REVIEW, reasons=reasons + [f"Review: {b}" for b in blockers])
    return Triage(tier=tier, route=Route.SELF_SERVE, reasons=[*reasons, "Meets the hub's self-serve guidelines"])
