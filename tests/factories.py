"""Shared test data: a filled-in intake modal as Slack sends it, and a use case as services return it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ColumnElement

from bot.core import Core
from intake.people import SLACK, PersonRef
from intake.read_models import Actor, PersonView, ReviewView, UseCaseView
from storage.models import Person
from tests.fakes.signed import date, text_input
from tests.fakes.signed import select as pick

T0 = dt.datetime(2026, 11, 2, 9, 30, tzinfo=dt.UTC)


# A low-risk internal use case: the answers most domain tests start from.
ANSWERS: dict[str, Any] = {
    "title": "Summarise support tickets",
    "problem": "Agents spend hours reading long ticket threads.",
    "department": "Support",
    "benefit": "Faster replies",
    "success_metric": "handling time -20%",
    "data_availability": "available",
    "data_sensitivity": "internal",
    "people_affected": "internal",
    "autonomy": "assistive",
}


def intake_values(**overrides: Any) -> dict[str, dict[str, Any]]:
    """A complete intake modal's `view.state.values`; override any field's block."""
    answers = {
        "title": text_input("Forecast invoice volumes"),
        "problem": text_input("Finance guesses monthly invoice volumes by hand and staffs the team wrong."),
        "department": pick("Finance"),
        "benefit": text_input("Right-sized team, fewer late payments"),
        "success_metric": text_input("Late payments down 30% by Q3"),
        "data_sources": text_input("ERP invoice history"),
        "data_availability": pick("available"),
        "data_sensitivity": pick("personal", "radio_buttons"),
        "people_affected": pick("internal", "radio_buttons"),
        "autonomy": pick("assistive", "radio_buttons"),
        "target_date": date(None),
        "links": text_input(""),
    }
    answers.update(overrides)
    return answers


def use_case_view(submitter: PersonView, reviewer: PersonView | None, /, **over: Any) -> UseCaseView:
    """Use case #12 in review with `reviewer`, as the services return it; override any field (even those two)."""
    data: dict[str, Any] = {
        "id": 12, "title": "Invoice triage", "problem": "Invoices wait days for routing.", "department": "Finance",
        "benefit": "Faster payments", "success_metric": "Routing time -50%", "data_sources": "ERP",
        "data_availability": "available", "data_sensitivity": "personal", "people_affected": "internal",
        "autonomy": "assistive", "target_date": dt.date(2027, 3, 1), "links": ["https://wiki.example/x"],
        "risk_tier": "medium", "route": "hub_review", "triage_reasons": ["Medium: uses personal data"],
        "status": "in_review", "stage": "ideation", "submitter": submitter, "reviewer": reviewer,
        "created_at": T0, "updated_at": T0, "review": ReviewView(round=1, reviewer=reviewer, assigned_at=T0),
    }
    data.update(over)
    return UseCaseView.model_validate(data)


def slack(user_id: str, name: str | None = None) -> PersonRef:
    """A Slack user, as the Slack adapter hands them to the core."""
    return PersonRef(SLACK, user_id, name)


def on_slack(user_id: str) -> ColumnElement[bool]:
    """A where-clause for the person with this Slack user id."""
    return Person.identities.any(platform=SLACK, external_id=user_id)


def slack_actor(core: Core, user_id: str, name: str | None = None) -> tuple[Actor, bool]:
    """The Actor the Slack adapter resolves for a user id (with the configured leads)."""
    return core.actor(slack(user_id, name), leads=core.settings.hub_leads)
