"""The lifecycle state machine: one step at a time, closing any time, past experimentation only with a go-ahead."""

from __future__ import annotations

import itertools

import pytest

from intake.errors import InvalidMove
from intake.lifecycle import allowed_moves, check_move
from intake.schema import Stage, Status


@pytest.mark.parametrize(
    ("stage", "status", "moves"),
    [
        (Stage.IDEATION, Status.IN_REVIEW, [Stage.EXPERIMENTATION, Stage.CLOSED]),
        (Stage.EXPERIMENTATION, Status.IN_REVIEW, [Stage.IDEATION, Stage.CLOSED]),
        (Stage.EXPERIMENTATION, Status.CHANGES_REQUESTED, [Stage.IDEATION, Stage.CLOSED]),
        (
            Stage.EXPERIMENTATION,
            Status.APPROVED,
            [Stage.PRODUCTION_ENGINEERING, Stage.IDEATION, Stage.CLOSED],
        ),
        (
            Stage.EXPERIMENTATION,
            Status.SELF_SERVE,
            [Stage.PRODUCTION_ENGINEERING, Stage.IDEATION, Stage.CLOSED],
        ),
        (Stage.DEPLOYMENT, Status.APPROVED, [Stage.MONITORING, Stage.PRODUCTION_ENGINEERING, Stage.CLOSED]),
        (Stage.MONITORING, Status.SELF_SERVE, [Stage.DEPLOYMENT, Stage.CLOSED]),
        (Stage.EXPERIMENTATION, Status.REJECTED, [Stage.CLOSED]),
        (Stage.CLOSED, Status.APPROVED, []),
    ],
)
def test_allowed_moves(stage: Stage, status: Status, moves: list[Stage]) -> None:
    assert allowed_moves(stage, status) == moves


def test_an_approved_use_case_walks_the_whole_lifecycle_and_closes() -> None:
    path = [
        Stage.IDEATION,
        Stage.EXPERIMENTATION,
        Stage.PRODUCTION_ENGINEERING,
        Stage.DEPLOYMENT,
        Stage.MONITORING,
        Stage.CLOSED,
    ]
    for here, there in itertools.pairwise(path):
        check_move(here, Status.APPROVED, there)  # raises on a refused move

    assert allowed_moves(path[-1], Status.APPROVED) == []


CLOSED_NEVER_MOVES = "It is closed; closed use cases do not move (a hub lead can reopen it)."


@pytest.mark.parametrize(
    ("stage", "status", "target", "message"),
    [
        (
            Stage.EXPERIMENTATION,
            Status.IN_REVIEW,
            Stage.PRODUCTION_ENGINEERING,
            "Production engineering needs the hub's go-ahead first (it is in hub review).",
        ),
        (
            Stage.EXPERIMENTATION,
            Status.REJECTED,
            Stage.PRODUCTION_ENGINEERING,
            "Production engineering needs the hub's go-ahead first (it is rejected).",
        ),
        (
            Stage.IDEATION,
            Status.IN_REVIEW,
            Stage.DEPLOYMENT,
            "Deployment needs the hub's go-ahead first (it is in hub review).",
        ),
        (Stage.CLOSED, Status.APPROVED, Stage.MONITORING, CLOSED_NEVER_MOVES),
        (Stage.CLOSED, Status.IN_REVIEW, Stage.IDEATION, CLOSED_NEVER_MOVES),
        (Stage.IDEATION, Status.APPROVED, Stage.IDEATION, "It is already in ideation."),
        (
            Stage.IDEATION,
            Status.APPROVED,
            Stage.DEPLOYMENT,
            "From ideation it can move to: experimentation, closed.",
        ),
        (
            Stage.MONITORING,
            Status.APPROVED,
            Stage.EXPERIMENTATION,
            "From monitoring it can move to: deployment, closed.",
        ),
        (Stage.EXPERIMENTATION, Status.REJECTED, Stage.IDEATION, "From experimentation it can move to: closed."),
    ],
    ids=[
        "production-needs-go-ahead",
        "rejected-gets-no-go-ahead",
        "skipping-ahead-still-needs-go-ahead",
        "closed-never-moves",
        "closed-never-reopens",
        "same-stage",
        "no-skipping",
        "no-skipping-back",
        "rejected-only-closes",
    ],
)
def test_refused_moves_say_why(stage: Stage, status: Status, target: Stage, message: str) -> None:
    with pytest.raises(InvalidMove) as refused:
        check_move(stage, status, target)

    assert refused.value.message == message


@pytest.mark.parametrize("status", list(Status))
def test_any_open_use_case_can_close(status: Status) -> None:
    check_move(Stage.IDEATION, status, Stage.CLOSED)

    assert Stage.CLOSED in allowed_moves(Stage.IDEATION, status)
