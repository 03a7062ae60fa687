"""Triage: the risk tier a submitter is shown, with reasons, and whether the hub's guidelines allow self-serve."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from intake.schema import Affected, Autonomy, DataAvailability, RiskTier, Route, Sensitivity, Submission
from intake.triage import Guidelines, risk_tier, triage
from tests.factories import ANSWERS

LOW_REASON = "Low: internal or no sensitive data, internal users, a person stays in charge"
MEETS = "Meets the hub's self-serve guidelines"


def answers(**overrides: Any) -> Submission:
    """A low-risk internal submission, with the answers a test cares about replaced."""
    base = ANSWERS
    return Submission(**(base | overrides))


@pytest.mark.parametrize(
    ("sensitivity", "affected", "autonomy", "tier", "reasons"),
    [
        (Sensitivity.NONE, Affected.INTERNAL, Autonomy.ASSISTIVE, RiskTier.LOW, [LOW_REASON]),
        (Sensitivity.INTERNAL, Affected.INTERNAL, Autonomy.HUMAN_IN_THE_LOOP, RiskTier.LOW, [LOW_REASON]),
        (
            Sensitivity.PERSONAL,
            Affected.INTERNAL,
            Autonomy.ASSISTIVE,
            RiskTier.MEDIUM,
            ["Medium: uses personal data"],
        ),
        (
            Sensitivity.INTERNAL,
            Affected.CUSTOMERS,
            Autonomy.HUMAN_IN_THE_LOOP,
            RiskTier.MEDIUM,
            ["Medium: affects customers"],
        ),
        (
            Sensitivity.NONE,
            Affected.INTERNAL,
            Autonomy.AUTOMATED,
            RiskTier.MEDIUM,
            ["Medium: acts without a person checking"],
        ),
        (
            Sensitivity.REGULATED,
            Affected.INTERNAL,
            Autonomy.ASSISTIVE,
            RiskTier.HIGH,
            ["High: uses regulated data"],
        ),
        (
            Sensitivity.NONE,
            Affected.PUBLIC,
            Autonomy.AUTOMATED,
            RiskTier.HIGH,
            ["High: acts automatically on the public"],
        ),
        (
            Sensitivity.PERSONAL,
            Affected.INTERNAL,
            Autonomy.AUTOMATED,
            RiskTier.HIGH,
            ["Medium: uses personal data", "High: acts automatically on personal data"],
        ),
        (
            Sensitivity.REGULATED,
            Affected.CUSTOMERS,
            Autonomy.ASSISTIVE,
            RiskTier.HIGH,
            ["High: uses regulated data", "Medium: affects customers"],
        ),
    ],
    ids=[
        "no-data-internal-assistive",
        "internal-data-human-in-loop",
        "personal-data",
        "customers-affected",
        "automated-internal",
        "regulated-data",
        "automated-on-public",
        "automated-on-personal-data",
        "regulated-and-customers-stays-high",
    ],
)
def test_risk_tier_and_the_reasons_shown(
    sensitivity: Sensitivity, affected: Affected, autonomy: Autonomy, tier: RiskTier, reasons: list[str]
) -> None:
    got_tier, got_reasons = risk_tier(
        answers(data_sensitivity=sensitivity, people_affected=affected, autonomy=autonomy)
    )
    assert (got_tier, got_reasons) == (tier, reasons)


def test_low_risk_available_internal_data_goes_ahead_self_serve_by_default() -> None:
    result = triage(answers(), Guidelines())

    assert result.route is Route.SELF_SERVE
    assert result.tier is RiskTier.LOW
    assert result.reasons == [LOW_REASON, MEETS]


@pytest.mark.parametrize(
    ("overrides", "reasons"),
    [
        (
            {"data_availability": DataAvailability.NEEDS_ACCESS},
            [LOW_REASON, "Review: the data is not available yet"],
        ),
        (
            {"data_sensitivity": Sensitivity.PERSONAL},
            [
                "Medium: uses personal data",
                "Review: medium risk needs hub review",
                "Review: personal data is outside the self-serve guidelines",
            ],
        ),
        (
            {"data_sensitivity": Sensitivity.REGULATED, "data_availability": DataAvailability.NOT_YET_COLLECTED},
            [
                "High: uses regulated data",
                "Review: high risk needs hub review",
                "Review: regulated data (health, financial, legal) is outside the self-serve guidelines",
                "Review: the data is not available yet",
            ],
        ),
    ],
    ids=["data-not-available", "personal-data", "regulated-and-not-collected"],
)
def test_default_guidelines_send_to_hub_review_saying_why(overrides: dict[str, Any], reasons: list[str]) -> None:
    result = triage(answers(**overrides), Guidelines())

    assert result.route is Route.HUB_REVIEW
    assert result.reasons == reasons


def test_self_serve_switched_off_sends_even_low_risk_to_review() -> None:
    result = triage(answers(), Guidelines(self_serve=False))

    assert result.route is Route.HUB_REVIEW
    assert result.tier is RiskTier.LOW
    assert result.reasons == [LOW_REASON, "Review: the hub reviews every use case for now"]


def test_narrower_sensitivity_list_sends_personal_free_data_to_review() -> None:
    result = triage(answers(data_sensitivity=Sensitivity.NONE), Guidelines(self_serve_sensitivity=[]))

    assert result.route is Route.HUB_REVIEW
    assert result.reasons == [LOW_REASON, "Review: no sensitive data is outside the self-serve guidelines"]


def test_internal_data_outside_the_guidelines_is_described_as_internal_business_data() -> None:
    result = triage(answers(), Guidelines(self_serve_sensitivity=[Sensitivity.NONE]))

    assert result.route is Route.HUB_REVIEW
    assert result.reasons[-1] == "Review: internal business data is outside the self-serve guidelines"


def test_not_requiring_available_data_lets_low_risk_go_ahead_while_access_is_pending() -> None:
    sub = answers(data_availability=DataAvailability.NEEDS_ACCESS)

    result = triage(sub, Guidelines(self_serve_requires_available_data=False))

    assert result.route is Route.SELF_SERVE
    assert result.reasons == [LOW_REASON, MEETS]


def test_allowing_personal_data_does_not_bypass_the_risk_tier() -> None:
    guidelines = Guidelines(self_serve_sensitivity=list(Sensitivity))

    result = triage(answers(data_sensitivity=Sensitivity.PERSONAL), guidelines)

    assert result.route is Route.HUB_REVIEW
    assert result.reasons == ["Medium: uses personal data", "Review: medium risk needs hub review"]


def test_guidelines_load_from_stored_json_and_reject_unknown_keys() -> None:
    stored = Guidelines.model_validate({"self_serve": False, "self_serve_sensitivity": ["none"]})
    assert stored.self_serve_sensitivity == [Sensitivity.NONE]
    assert stored.self_serve_requires_available_data is True

    with pytest.raises(ValidationError, match="self_serve_everything"):
        Guidelines.model_validate({"self_serve_everything": True})
