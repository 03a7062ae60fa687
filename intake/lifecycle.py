"""The lifecycle state machine: which stage moves are allowed, and when."""

from __future__ import annotations

from intake.errors import InvalidMove
from intake.schema import Stage, Status, label

ORDER = [
    Stage.IDEATION,
    Stage.EXPERIMENTATION,
    Stage.PRODUCTION_ENGINEERING,
    Stage.DEPLOYMENT,
    Stage.MONITORING,
]

# Ideation and experimentation are safe to start before the hub has decided; anything past
# experimentation needs a go-ahead (approval or self-serve).
NEEDS_GO_AHEAD = {Stage.PRODUCTION_ENGINEERING, Stage.DEPLOYMENT, Stage.MONITORING}
GO_AHEAD = {Status.APPROVED, Status.SELF_SERVE}
# Statuses the hub's review ended in without a go-ahead: such a use case only closes, or a lead reopens it.
ENDED = {Status.REJECTED, Status.WITHDRAWN}


def allowed_moves(stage: Stage, status: Status) -> list[Stage]:
    """Stages reachable in one move: one step forward, one step back, or closed."""
    if stage is Stage.CLOSED:
        return []
    if status in ENDED:
        return [Stage.CLOSED]
    i = ORDER.index(stage)
    moves = []
    if i + 1 < len(ORDER):
        moves.append(ORDER[i + 1])
    if i > 0:
        moves.append(ORDER[i - 1])
    moves.append(Stage.CLOSED)
    return [m for m in moves if m not in NEEDS_GO_AHEAD or status in GO_AHEAD]


def can_reopen(stage: Stage, status: Status) -> bool:
    """A closed use case, or one the hub rejected, can be reopened (by a lead)."""
    return stage is Stage.CLOSED or status in ENDED


def check_move(stage: Stage, status: Status, target: Stage) -> None:
    """Raise InvalidMove with the reason when `stage -> target` is not allowed."""
    if target is stage:
        raise InvalidMove(f"It is already in {label(stage).lower()}.")
    if stage is Stage.CLOSED:
        raise InvalidMove("It is closed; closed use cases do not move (a hub lead can reopen it).")
    if target in NEEDS_GO_AHEAD and status not in GO_AHEAD:
        raise InvalidMove(f"{label(target)} needs the hub's go-ahead first (it is {label(status).lower()}).")
    allowed = allowed_moves(stage, status)
    if target not in allowed:
        options = ", ".join(label(s).lower() for s in allowed) or "nothing"
        raise InvalidMove(f"From {label(stage).lower()} it can move to: {options}.")
