"""Routing: matched skills first, then the lightest load, then whoever waited longest since an assignment."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from intake.routing import Candidate, pick_reviewer, terms
from tests.conftest import NOW

TEXT = "Forecast weekly demand for fresh food in stores"


def cand(
    person_id: int,
    *skills: str,
    open_reviews: int = 0,
    last: dt.datetime | None = None,
) -> Candidate:
    return Candidate(person_id, skills, open_reviews, last)


def picked_id(candidates: list[Candidate], text: str = TEXT) -> int:
    picked = pick_reviewer(candidates, text)
    assert picked is not None
    return picked[0].person_id


def test_nobody_to_pick_returns_none() -> None:
    assert pick_reviewer([], TEXT) is None


def test_matched_skill_beats_a_lighter_load_and_is_reported() -> None:
    busy_expert = cand(1, "demand forecasting", "contract review", open_reviews=4)
    idle = cand(2, "computer vision")

    picked = pick_reviewer([idle, busy_expert], TEXT)

    assert picked == (busy_expert, ["demand forecasting"])


def test_more_matched_skills_win() -> None:
    one = cand(1, "forecasting")
    two = cand(2, "forecasting", "food")

    assert pick_reviewer([one, two], TEXT) == (two, ["forecasting", "food"])


def test_a_skill_matches_only_when_all_its_words_occur() -> None:
    partial = cand(1, "demand planning", open_reviews=1)  # "planning" is not in the text
    lighter = cand(2, open_reviews=0)

    assert pick_reviewer([partial, lighter], TEXT) == (lighter, [])


def test_words_match_whole_not_as_substrings() -> None:
    ml = cand(1, "ml", open_reviews=1)
    other = cand(2, open_reviews=0)

    assert pick_reviewer([ml, other], "Tidy up HTML emails") == (other, [])


def test_equal_skills_go_to_fewest_open_reviews() -> None:
    candidates = [
        cand(1, "forecasting", open_reviews=3),
        cand(2, "forecasting", open_reviews=1),
        cand(3, "forecasting", open_reviews=2),
    ]

    assert picked_id(candidates) == 2


def test_equal_load_goes_to_least_recently_assigned_and_never_assigned_first() -> None:
    candidates = [
        cand(1, last=NOW - dt.timedelta(hours=1)),
        cand(2, last=NOW - dt.timedelta(days=3)),
        cand(3, last=None),
    ]

    assert picked_id(candidates) == 3
    assert picked_id(candidates[:2]) == 2


def test_equal_everything_is_round_robin() -> None:
    """Each assignment stamps last_assigned_at, so the next equal case goes to someone else."""
    pool = {pid: cand(pid) for pid in (7, 3, 5)}
    order = []
    for step in range(6):
        chosen = picked_id(list(pool.values()))
        order.append(chosen)
        pool[chosen] = dataclasses.replace(pool[chosen], last_assigned_at=NOW + dt.timedelta(minutes=step))

    assert order == [3, 5, 7, 3, 5, 7]


def test_terms_are_lower_case_words_without_punctuation() -> None:
    assert terms("OCR, for GPT-4!") == {"ocr", "for", "gpt", "4"}
    assert terms("Invoices") == terms("invoice")  # stemmed


@pytest.mark.parametrize(
    ("skill", "text"),
    [
        ("forecasting", "We forecast sales"),
        ("forecast", "Forecasting weekly demand"),
        ("forecasts", "it forecasted badly"),
        ("contract review", "Reviewing supplier contracts"),
        ("chatbots", "a chatbot for HR"),
        ("invoice", "We process supplier invoices by hand"),
        ("process mining", "Mining our processing logs"),
        ("summary", "Draft summaries of calls"),
    ],
)
def test_skills_match_other_forms_of_the_same_word(skill: str, text: str) -> None:
    expert = cand(1, skill, open_reviews=5)
    idle = cand(2)

    assert pick_reviewer([idle, expert], text) == (expert, [skill])
