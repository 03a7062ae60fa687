"""The LLM's view of a use case's risk, beside the rules' tier: asked after the submission is saved (a durable
task), shown to the reviewer and on the status, a disagreement highlighted; never applied. The rules decide."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy.orm.attributes import flag_modified

from intake.read_models import RISK_SUGGESTION, RiskSuggestion, UseCaseView
from intake.reviews import load_use_case, update_card
from storage import repo
from storage.db import UnitOfWork

TASK = "explain_risk"
FIELDS = (  # what describes a use case's risk, in the intake's words; LLM_FIELDS may narrow it
    ("title", "Title"),
    ("problem", "Problem"),
    ("department", "Department"),
    ("benefit", "Expected benefit"),
    ("data_sources", "Data sources"),
    ("data_sensitivity", "Data sensitivity"),
    ("people_affected", "People affected"),
    ("autonomy", "Output and autonomy"),
)


def use_case_text(uc: UseCaseView, allowed: Iterable[str] = ()) -> str:
    """The fields a lead allows to be sent (all when `allowed` is empty), one per line."""
    allowed = set(allowed)
    lines = []
    for name, label in FIELDS:
        if allowed and name not in allowed:
            continue
        value: Any = getattr(uc, name)
        lines.append(f"{label}: {getattr(value, 'value', value)}")
    return "\n".join(lines)


def ask_later(uow: UnitOfWork, use_case_id: int, now: dt.datetime) -> None:
    """Queue the question as durable work, in the caller's transaction (no model call delays a request)."""
    from bot.tasks import TASKS  # the outbox platform of durable work

    task = {"task": TASK, "use_case_id": use_case_id, "person_id": 0}
    repo.enqueue(uow.session, task, operation="task", platform=TASKS, destination=f"llm:{use_case_id}", at=now)


def store(
    uow: UnitOfWork, use_case_id: int, suggestion: RiskSuggestion, model: str, prompt: str, *, now: dt.datetime
) -> None:
    """Keep the suggestion beside the use case and redraw its review card; its tier, route and status stay."""
    s = uow.session
    uc = load_use_case(s, use_case_id)
    uc.extra = {
        **(uc.extra or {}),
        RISK_SUGGESTION: {**suggestion.model_dump(mode="json"), "model": model, "prompt": prompt},
    }
    flag_modified(uc, "extra")
    review = repo.current_review(s, uc.id)
    if review is not None and review.decision is None:
        update_card(s, UseCaseView.of(uc, review), now)
    uow.commit()
