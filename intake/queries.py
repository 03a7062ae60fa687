"""Reading use cases: one by id (and parsing the id a person typed), yours, and your review queue."""

from __future__ import annotations

from intake import retros
from intake.closing import view_of
from intake.errors import HubError, NotFound
from intake.read_models import Actor, UseCaseView
from intake.reviews import load_use_case
from storage import repo
from storage.db import UnitOfWork


def get_use_case(uow: UnitOfWork, use_case_id: int) -> UseCaseView:
    """One use case with its current review round, its lessons and, once closed, who closed it and why."""
    s = uow.session
    uc = load_use_case(s, use_case_id)
    view = view_of(s, uc, repo.current_review(s, uc.id))
    return view.model_copy(
        update={"lessons": retros.lessons_of(s, uc.id), "retro_waiting": retros.retro_waiting(s, uc.id)}
    )


MAX_ID = 2**31 - 1  # ids are 32-bit integers on every backend


def parse_id(text: str) -> int:
    """A use case id from `12` or `#12`, or a HubError saying what was expected (or that there is none)."""
    cleaned = text.strip().lstrip("#")
    if not (cleaned.isascii() and cleaned.isdigit()):
        shown = text.strip()[:40] or "(nothing)"
        raise HubError(f"'{shown}' is not a use case id; ids look like #12.")
    number = int(cleaned[:40])
    if number > MAX_ID or len(cleaned) > 40:
        raise NotFound(f"There is no use case #{cleaned[:20]}{'…' if len(cleaned) > 20 else ''}.")
    return number


def my_use_cases(uow: UnitOfWork, actor: Actor) -> list[UseCaseView]:
    """The use cases this person submitted, newest activity first."""
    s = uow.session
    return [UseCaseView.of(uc, repo.current_review(s, uc.id)) for uc in repo.use_cases_of(s, actor.person_id)]


def my_review_queue(uow: UnitOfWork, actor: Actor) -> list[UseCaseView]:
    """Use cases waiting on this reviewer, oldest first."""
    s = uow.session
    return [UseCaseView.of(uc, repo.current_review(s, uc.id)) for uc in repo.review_queue(s, actor.person_id)]
