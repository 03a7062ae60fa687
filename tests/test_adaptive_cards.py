"""The Adaptive Card validator Teams tests lean on: it passes a good 1.5 card and names what is wrong in a bad one."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from tests.fakes.adaptive_cards import card_problems, validate_card


def good_card() -> dict[str, Any]:
    """A 1.5 card with every kind of element the bot sends."""
    reason = {
        "type": "AdaptiveCard",
        "body": [
            {
                "type": "Input.Text",
                "id": "reason",
                "label": "Why is it rejected?",
                "isMultiline": True,
                "isRequired": True,
                "errorMessage": "Please say why.",
                "maxLength": 3000,
            }
        ],
        "actions": [{"type": "Action.Execute", "title": "Reject", "verb": "reject", "data": {"use_case_id": 12}}],
    }
    return {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": "1.5",
        "body": [
            {
                "type": "TextBlock",
                "text": "**Invoice forecasting** (#12), for <at>Rita</at>",
                "wrap": True,
                "style": "heading",
            },
            {"type": "FactSet", "facts": [{"title": "Stage", "value": "Ideation"}, {"title": "Risk", "value": "Low"}]},
            {
                "type": "Input.Text",
                "id": "title",
                "label": "Title",
                "isRequired": True,
                "errorMessage": "Give it a title.",
                "maxLength": 120,
            },
            {
                "type": "Input.ChoiceSet",
                "id": "department",
                "label": "Department",
                "style": "compact",
                "choices": [{"title": "Finance", "value": "Finance"}, {"title": "HR", "value": "HR"}],
            },
            {
                "type": "Input.ChoiceSet",
                "id": "data",
                "label": "Data it uses",
                "style": "expanded",
                "isMultiSelect": True,
                "choices": [{"title": "Public", "value": "public"}, {"title": "Personal", "value": "personal"}],
            },
            {
                "type": "Input.ChoiceSet",
                "id": "owner",
                "style": "filtered",
                "choices": [{"title": "Rita", "value": "r"}],
            },
            {"type": "Input.Date", "id": "due", "label": "Wanted by", "min": "2026-01-01"},
            {
                "type": "ActionSet",
                "actions": [
                    {"type": "Action.Execute", "title": "Approve", "verb": "approve", "style": "positive", "data": {}}
                ],
            },
        ],
        "actions": [
            {"type": "Action.Execute", "title": "Submit", "verb": "submit", "data": {"type": "not an element"}},
            {"type": "Action.ShowCard", "title": "Reject…", "card": reason},
        ],
        "msteams": {
            "width": "Full",
            "entities": [{"type": "mention", "text": "<at>Rita</at>", "mentioned": {"id": "29:1abc", "name": "Rita"}}],
        },
    }


def with_change(path: str, value: Any) -> dict[str, Any]:
    """The good card with one value replaced (`path` like "body.0.text"; value None deletes it)."""
    card = copy.deepcopy(good_card())
    *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
    node: Any = card
    for p in parents:
        node = node[p]
    if value is None:
        del node[last]
    else:
        node[last] = value
    return card


def test_a_correct_1_5_card_passes() -> None:
    assert card_problems(good_card()) == []
    validate_card(good_card())


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("body.0.type", "Fancy", "$.body[0]: unknown element type 'Fancy'"),
        ("body.0.type", "Carousel", "$.body[0]: unknown element type 'Carousel': it is newer than Adaptive Cards 1.5"),
        ("body.7.actions.0.type", "Badge", "$.body[7].actions[0]: unknown element type 'Badge'"),
        ("body.0.type", "Column", "$.body[0]: 'Column' is not allowed here"),
        ("body.0.text", None, "$.body[0]: 'text' is a required property"),
        ("body.1.facts.0.value", None, "$.body[1].facts[0]: 'value' is a required property"),
        ("body.2.maxLength", "long", "$.body[2].maxLength: 'long' is not of type 'number'"),
        ("body.2.autoFocus", True, "$.body[2]: Additional properties are not allowed ('autoFocus' was unexpected)"),
        ("body.3.style", "dropdown", '$.body[3].style: "dropdown" is not valid here'),
        ("body.4.id", None, "$.body[4]: 'id' is a required property"),
        ("actions.0.verb", None, "$.actions[0]: Action.Execute has no 'verb'"),
        ("actions.0.verb", " ", "$.actions[0]: Action.Execute has no 'verb'"),
        ("actions.1.card.actions.0.verb", None, "$.actions[1].card.actions[0]: Action.Execute has no 'verb'"),
        ("body.3.id", "title", "$.body[3].id: input id 'title' is already used at $.body[2]: one Action.Execute"),
        (
            "actions.1.card.body.0.id",
            "due",
            "$.actions[1].card.body[0].id: input id 'due' is already used at $.body[6]",
        ),
        ("version", "1.6", "$.version: 1.6 is newer than 1.5, the version Teams renders"),
        ("version", "2", "$.version: must be a version string like '1.5' (got \"2\")"),
        ("version", None, "$: has no 'version'"),
        ("type", "Card", "$.type: must be 'AdaptiveCard'"),
        ("msteams.width", "Wide", "$.msteams.width: must be 'Full'"),
        ("msteams.entities.0.text", "Rita", "$.msteams.entities[0].text: must be the '<at>…</at>' tag"),
    ],
)
def test_a_broken_card_is_refused_naming_the_problem(path: str, value: Any, expected: str) -> None:
    card = with_change(path, value)
    with pytest.raises(AssertionError, match=re.escape(expected)):
        validate_card(card)


def test_a_mention_the_text_does_not_carry_is_refused() -> None:
    card = with_change("body.0.text", "**Invoice forecasting** (#12), for Rita")
    with pytest.raises(AssertionError, match=re.escape("'<at>Rita</at>' is not in the card's text")):
        validate_card(card)


def test_what_needs_a_newer_version_than_the_card_declares_is_named() -> None:
    card = with_change("version", "1.2")
    problems = card_problems(card)
    assert "$.body[0].style: TextBlock.style needs Adaptive Cards 1.5; the card declares 1.2" in problems
    assert "$.body[2].isRequired: Input.Text.isRequired needs Adaptive Cards 1.3; the card declares 1.2" in problems
    assert "$.actions[0]: Action.Execute needs Adaptive Cards 1.4; the card declares 1.2" in problems


def test_ids_other_than_inputs_are_unique_too() -> None:
    card = good_card()
    card["body"][1]["id"] = "title"
    assert card_problems(card) == [
        "$.body[2].id: id 'title' is already used at $.body[1] (FactSet): ids must be unique in the card"
    ]


def test_inputs_of_two_show_cards_may_not_share_an_id_either() -> None:
    """Never sent together, but the Adaptive Cards SDK's validation counts every id in the card (DuplicateId)."""
    card = good_card()
    card["actions"].append(copy.deepcopy(card["actions"][1]))
    problems = card_problems(card)
    assert problems == [
        "$.actions[2].card.body[0].id: input id 'reason' is already used at $.actions[1].card.body[0]: "
        "ids must be unique in the whole card, its Action.ShowCard cards included (the SDK's DuplicateId)"
    ]


def test_every_problem_is_listed_at_once() -> None:
    card = with_change("version", "1.6")
    del card["body"][0]["text"]
    card["body"][3]["id"] = "title"
    del card["actions"][0]["verb"]
    with pytest.raises(AssertionError) as refused:
        validate_card(card)
    said = str(refused.value)
    assert said.startswith("not a valid Adaptive Card 1.5 for Teams (5 problem(s)):")
    for expected in (
        "$.body[0]: 'text' is a required property",
        "$.version: 1.6 is newer than 1.5",
        "$.actions[0]: Action.Execute has no 'verb'",
        "$.body[3].id: input id 'title' is already used at $.body[2]",
        "'<at>Rita</at>' is not in the card's text",
    ):
        assert expected in said
