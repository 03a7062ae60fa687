"""Intake from a paragraph: what someone wrote about an idea, turned by the LLM into a draft of the intake form
that they then check and correct field by field. Nothing is submitted by the model; without one (or when its
answer does not validate) the draft is today's: the first sentence as the title, all of it as the problem."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field

from intake.errors import NotAllowed, NotFound
from intake.forms import Draft, draft_from_text, match_department
from intake.notices import DraftReady
from intake.read_models import Actor, jsonable
from intake.schema import MAX_TITLE, Affected, Autonomy, DataAvailability, Sensitivity
from storage import repo
from storage.db import UnitOfWork
from storage.models import IntakeDraft

MIN_WORDS = 12  # shorter than this is a title, not a description: the form opens at once
MAX_TEXT = 3000
TASK = "draft_intake"


class DraftAnswer(BaseModel):
    """What the model may answer: every field optional ("" or "unknown"), at most two questions."""

    title: str = Field(max_length=200)
    problem: str = Field(max_length=3000)
    department: str = Field(max_length=80)
    benefit: str = Field(max_length=1000)
    success_metric: str = Field(max_length=500)
    data_sources: str = Field(max_length=1000)
    data_availability: Literal["available", "needs_access", "not_yet_collected", "unknown"]
    data_sensitivity: Literal["none", "internal", "personal", "regulated", "unknown"]
    people_affected: Literal["internal", "customers", "public", "unknown"]
    autonomy: Literal["assistive", "human_in_the_loop", "automated", "unknown"]
    questions: list[str] = Field(max_length=2)


def wants_drafting(text: str) -> bool:
    """A description long enough for the model to fill more than the title."""
    return len(text.split()) >= MIN_WORDS


def draft_of(answer: DraftAnswer | None, text: str, departments: list[str]) -> tuple[Draft, list[str]]:
    """The form's pre-fill and the questions to show: the model's where it answered, today's pre-fill otherwise."""
    base = draft_from_text(text[:MAX_TEXT])
    if answer is None:
        return base, []

    def choice(enum: type, value: str) -> object:
        try:
            return enum(value) if value and value != "unknown" else None
        except ValueError:
            return None

    title = " ".join(answer.title.split())[:MAX_TITLE] or base.title
    draft = Draft(
        title=title,
        problem=answer.problem.strip() or base.problem,
        department=(match_department(answer.department, departments) or "") if answer.department else "",
        benefit=answer.benefit.strip(),
        success_metric=answer.success_metric.strip(),
        data_sources=answer.data_sources.strip(),
        data_availability=choice(DataAvailability, answer.data_availability),  # type: ignore[arg-type]
        data_sensitivity=choice(Sensitivity, answer.data_sensitivity),  # type: ignore[arg-type]
        people_affected=choice(Affected, answer.people_affected),  # type: ignore[arg-type]
        autonomy=choice(Autonomy, answer.autonomy),  # type: ignore[arg-type]
    )
    questions = [" ".join(q.split())[:200] for q in answer.questions if q.strip()][:2]
    return draft, questions


# --- the durable path: asked after the request is answered, the draft kept for its writer --------------------


def request_draft(uow: UnitOfWork, actor: Actor, text: str, *, now: dt.datetime) -> None:
    """Queue the drafting as durable work (committed on return): no model call delays the request."""
    from bot.tasks import TASKS  # the outbox platform of durable work

    task = {"task": TASK, "person_id": actor.person_id, "text": text[:MAX_TEXT]}
    destination = f"draft:{actor.person_id}"
    repo.enqueue(uow.session, task, operation="task", platform=TASKS, destination=destination, at=now)
    uow.commit()


def save_draft(
    uow: UnitOfWork,
    person_id: int,
    draft: Draft,
    questions: list[str],
    from_model: bool,
    departments: list[str],
    *,
    now: dt.datetime,
) -> int:
    """Keep the draft for its writer and tell them it is ready to check (in their working hours or at once)."""
    s = uow.session
    row = IntakeDraft(
        person_id=person_id,
        answers=draft.model_dump(mode="json"),
        questions=questions,
        from_model=from_model,
        created_at=now,
    )
    s.add(row)
    s.flush()
    notice = DraftReady(
        draft_id=row.id,
        answers=row.answers,
        questions=questions,
        from_model=from_model,
        departments=departments,
    )
    repo.enqueue(s, jsonable(notice), person_id=person_id, at=now)
    uow.commit()
    return row.id


def load_draft(uow: UnitOfWork, actor: Actor, draft_id: int) -> tuple[Draft, list[str]]:
    """A kept draft, for the person who wrote it."""
    row = uow.session.get(IntakeDraft, draft_id)
    if row is None:
        raise NotFound("That draft is gone: type /usecase and your idea again.")
    if row.person_id != actor.person_id:
        raise NotAllowed("That draft is someone else's.")
    return Draft.model_validate(row.answers), list(row.questions)
