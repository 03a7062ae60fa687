"""Intake form helpers every surface shares: drafts, the fields in order, and friendly validation messages."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from intake.schema import Affected, Autonomy, DataAvailability, Decision, Sensitivity, Submission


class Draft(BaseModel):
    """A partial submission for pre-filling the intake form."""

    title: str = ""
    problem: str = ""
    department: str = ""
    benefit: str = ""
    success_metric: str = ""
    data_sources: str = ""
    data_availability: DataAvailability | None = None
    data_sensitivity: Sensitivity | None = None
    people_affected: Affected | None = None
    autonomy: Autonomy | None = None
    target_date: dt.date | None = None
    links: str = ""

    @classmethod
    def of(cls, sub: Submission) -> Draft:
        return cls(**{**sub.model_dump(), "links": "\n".join(sub.links)})


def draft_from_text(text: str) -> Draft:
    """Pre-fill title and problem from free text: the first sentence or line becomes the title."""
    text = " ".join(text.split()) if "\n" not in text else text.strip()
    first = re.split(r"(?<=[.!?])\s|\n", text, maxsplit=1)[0].strip().rstrip(".!?")
    if len(first) > 80:
        first = first[:80].rsplit(" ", 1)[0] + "…"
    return Draft(title=first, problem=text)


@dataclass(frozen=True)
class FormField:
    """One question of the intake form, as every surface asks it."""

    name: str
    label: str
    hint: str | None = None
    example: str | None = None
    optional: bool = False
    choices: type[StrEnum] | None = None


INTAKE_FIELDS: tuple[FormField, ...] = (
    FormField("title", "Title", example="Invoice triage assistant"),
    FormField("problem", "Problem", hint="What is slow, costly or error-prone today, and for whom?"),
    FormField("department", "Department", example="Finance"),
    FormField("benefit", "Expected benefit"),
    FormField(
        "success_metric",
        "Success metric",
        hint="The business metric this should move. Set it now: it is how the hub will judge success.",
        example="average handling time down 20% by Q3",
    ),
    FormField("data_sources", "Data sources", hint="Systems, files or datasets it would use.", optional=True),
    FormField("data_availability", "Is that data available?", choices=DataAvailability),
    FormField("data_sensitivity", "Data sensitivity", choices=Sensitivity),
    FormField("people_affected", "People affected", choices=Affected),
    FormField("autonomy", "Output and autonomy", choices=Autonomy),
    FormField("target_date", "Target date", example="2027-03-31", optional=True),
    FormField("links", "Links", hint="Docs, tickets, prototypes.", optional=True),
)

REASON_PROMPTS: dict[Decision, str] = {
    Decision.REJECT: "Why is it rejected?",
    Decision.REQUEST_CHANGES: "What should the submitter change?",
}


def friendly(err: Any) -> str:
    """One pydantic error as a sentence a person understands."""
    kind, ctx = err["type"], err.get("ctx", {})
    if kind == "missing":
        return "Please fill this in."
    if kind == "string_too_short":
        return f"Please write at least {ctx.get('min_length')} characters."
    if kind == "string_too_long":
        return f"Please keep this under {ctx.get('max_length')} characters."
    if kind == "value_error":
        message = str(ctx.get("error", err["msg"]))
        return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")
    if kind.startswith("date_"):
        return "Please give a date as YYYY-MM-DD, e.g. 2027-03-31."
    if kind == "enum":
        return "Please choose one of the options."
    return "Please check this answer."


def parse_submission(raw: dict[str, Any]) -> tuple[Submission | None, dict[str, str]]:
    """A Submission from raw answers (blanks left out), or friendly errors keyed by field name."""
    answers = {k: v for k, v in raw.items() if v not in (None, "")}
    try:
        return Submission.model_validate(answers), {}
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else "title"
            errors.setdefault(field, friendly(err))
        return None, errors


def check_answer(name: str, value: Any, *, today: dt.date) -> str | None:
    """The friendly error for one answer on its own, or None when it is fine (for asking field by field)."""
    _, errors = parse_submission({name: value})
    if name in errors:
        return errors[name]
    if name == "target_date" and value not in (None, ""):
        date = TypeAdapter(dt.date).validate_python(value)
        return Submission.model_construct(target_date=date).check_target_date(today)
    return None
