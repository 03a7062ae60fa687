"""Submission validation: each error is tied to the field it belongs beside, in words a spoke can act on."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from pydantic import ValidationError

from intake.schema import Affected, Autonomy, DataAvailability, Sensitivity, Submission
from tests.conftest import NOW
from tests.factories import ANSWERS

TODAY = NOW.date()


def answers(**overrides: Any) -> dict[str, Any]:
    base = ANSWERS
    return base | overrides


def field_errors(**overrides: Any) -> dict[str, str]:
    """The validation messages by field name, as the modal would show them."""
    with pytest.raises(ValidationError) as invalid:
        Submission(**answers(**overrides))
    return {".".join(str(p) for p in e["loc"]): e["msg"] for e in invalid.value.errors()}


def test_valid_answers_are_parsed_and_trimmed() -> None:
    sub = Submission(**answers(title="  Summarise support tickets  ", links="https://a.example/x, http://b.example"))

    assert sub.title == "Summarise support tickets"
    assert sub.data_sensitivity is Sensitivity.INTERNAL
    assert sub.people_affected is Affected.INTERNAL
    assert sub.autonomy is Autonomy.ASSISTIVE
    assert sub.data_availability is DataAvailability.AVAILABLE
    assert sub.links == ("https://a.example/x", "http://b.example")
    assert sub.target_date is None


@pytest.mark.parametrize("title", ["AI", "  a  ", ""])
def test_too_short_title(title: str) -> None:
    assert field_errors(title=title) == {"title": "String should have at least 3 characters"}


def test_too_long_title() -> None:
    assert field_errors(title="x" * 121) == {"title": "String should have at most 120 characters"}


def test_too_short_problem() -> None:
    assert field_errors(problem="slow") == {"problem": "String should have at least 10 characters"}


METRIC_HINT = "Value error, name the business metric this should move, e.g. 'handling time -20%'"


@pytest.mark.parametrize("metric", ["TBD", "  tbd ", "N/A", "Todo", "none", "unknown", "na"])
def test_placeholder_success_metric_is_rejected_on_its_field(metric: str) -> None:
    assert set(field_errors(success_metric=metric)) == {"success_metric"}


@pytest.mark.parametrize(
    "metric",
    [
        "TBD",
        "  tbd ",
        "N/A",
        "Todo",
        "unknown",
        "na",
    ],
)
def test_placeholder_success_metric_asks_for_a_real_one(metric: str) -> None:
    assert field_errors(success_metric=metric) == {"success_metric": METRIC_HINT}


def test_specific_success_metric_that_mentions_tbd_is_fine() -> None:
    assert Submission(**answers(success_metric="TBD replaced by handling time -20%")).success_metric


@pytest.mark.parametrize(
    "link",
    ["www.example.com/page", "ftp://files.example.com/report", "https://", "javascript:alert(1)"],
)
def test_links_must_be_web_links(link: str) -> None:
    assert field_errors(links=[link]) == {
        "links": f'Value error, "{link}" is not a web link: links start with https://'
    }


def test_bad_link_among_good_ones_is_named() -> None:
    errors = field_errors(links="https://ok.example, intranet/page")

    assert errors == {"links": 'Value error, "intranet/page" is not a web link: links start with https://'}


def test_at_most_ten_links() -> None:
    links = " ".join(f"https://example.com/{i}" for i in range(11))

    assert field_errors(links=links) == {"links": "Value error, at most 10 links"}


def test_unknown_choice_is_tied_to_its_field() -> None:
    errors = field_errors(data_sensitivity="secret", autonomy="robotic")

    assert set(errors) == {"data_sensitivity", "autonomy"}
    assert "'none', 'internal', 'personal' or 'regulated'" in errors["data_sensitivity"]


def test_every_problem_is_reported_at_once() -> None:
    errors = field_errors(title="AI", success_metric="tbd", links="nope")

    assert set(errors) == {"title", "success_metric", "links"}


def test_past_target_date_is_reported() -> None:
    sub = Submission(**answers(target_date=TODAY - dt.timedelta(days=1)))

    assert sub.check_target_date(TODAY) == "The target date is in the past."


@pytest.mark.parametrize("target", [TODAY, TODAY + dt.timedelta(days=30), None])
def test_today_future_or_no_target_date_is_fine(target: dt.date | None) -> None:
    assert Submission(**answers(target_date=target)).check_target_date(TODAY) is None


def test_submission_cannot_be_changed_after_validation() -> None:
    sub = Submission(**answers())

    with pytest.raises(ValidationError, match="frozen"):
        sub.title = "Something else"  # type: ignore[misc]
