"""Domain errors: each carries the sentence the person who caused it should read."""

from __future__ import annotations

import datetime as dt


class HubError(Exception):
    """A request the hub cannot carry out, with a message meant for the person who made it."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(HubError):
    """The use case, person or department named does not exist."""


class NotAllowed(HubError):
    """The person's role does not allow this."""


class HeldByAnother(NotAllowed):
    """Another reviewer holds the review: the refusal offers to take it over (a reassignment, then the decision)."""

    def __init__(self, message: str, use_case_id: int, round_: int) -> None:
        super().__init__(message)
        self.use_case_id = use_case_id
        self.round = round_


class InvalidMove(HubError):
    """The state machine does not allow this change."""


class AlreadyDecided(HubError):
    """Someone else decided first; the message says who, `decided_at` says when."""

    def __init__(self, message: str, decided_at: dt.datetime | None = None, decided_by_id: int | None = None) -> None:
        super().__init__(message)
        self.decided_at = decided_at
        self.decided_by_id = decided_by_id


class FieldErrors(HubError):
    """Input errors keyed by field name, for showing beside the right field."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors
