"""The intake form every surface draws: its fields in order, drafts, and the one place answers are validated."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from annotated_types import MaxLen
from pydantic import BaseModel, TypeAdapter, ValidationError

from intake.schema import MAX_TITLE, Affected, Autonomy, DataAvailability, Decision, Sensitivity, Submission, label


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

    @classmethod
    def of_answers(cls, answers: Mapping[str, Any]) -> Draft:
        """A draft of stored answers (`UseCaseView.answers()`), to pre-fill an edit."""
        return cls(**{**answers, "links": "\n".join(answers.get("links") or [])})


TRAILING = " ,;:-\u2013\u2014"  # what a cut title does not end in (en and em dashes too)


def draft_from_text(text: str) -> Draft:
    """Pre-fill title and problem from free text: the first sentence or line is the title, all of it the problem.

    A sentence that fits the title's limit is kept whole (without its full stop); a longer one is cut at the
    last word that fits, never with a "…" that would be stored as part of the title.
    """
    text = " ".join(text.split()) if "\n" not in text else text.strip()
    first = re.split(r"(?<=[.!?])\s|\n", text, maxsplit=1)[0].strip().rstrip(".").strip()
    if len(first) > MAX_TITLE:
        cut = first[: MAX_TITLE + 1].rsplit(" ", 1)[0]
        first = (cut if " " in first[: MAX_TITLE + 1] else first[:MAX_TITLE]).rstrip(TRAILING)
    return Draft(title=first, problem=text)


class Kind(StrEnum):
    """How a question is answered; each surface draws its own input for it."""

    TEXT = "text"  # one line
    LONG_TEXT = "long_text"  # a few lines
    DROPDOWN = "dropdown"  # one of a list, folded away until opened
    RADIO = "radio"  # one of a few, all in view
    DATE = "date"


@dataclass(frozen=True)
class Choice:
    """One answer a person can pick: what is stored, and what they read."""

    value: str
    label: str


def _model_max_length(name: str) -> int | None:
    return next((m.max_length for m in Submission.model_fields[name].metadata if isinstance(m, MaxLen)), None)


@dataclass(frozen=True)
class FormField:
    """One question of the intake form, as every surface asks it.

    `max_length` defaults to the Submission model's own limit, so the form and the model cannot disagree.
    """

    name: str
    label: str
    kind: Kind = Kind.TEXT
    hint: str | None = None
    example: str | None = None
    optional: bool = False
    choices: type[StrEnum] | None = None
    max_length: int | None = None
    # The department is typed freely until the hub has departments; then they are its choices.
    hub_choices: bool = False
    choose: str | None = None  # placeholder of a pick list

    def __post_init__(self) -> None:
        if self.max_length is None and self.kind in (Kind.TEXT, Kind.LONG_TEXT):
            object.__setattr__(self, "max_length", _model_max_length(self.name))

    @property
    def required(self) -> bool:
        return not self.optional

    @property
    def placeholder(self) -> str | None:
        """What an empty text input shows."""
        return f"e.g. {self.example}" if self.example else None

    def options(self, departments: Sequence[str] = ()) -> list[Choice]:
        """The answers to pick from, with their labels; empty when the answer is typed."""
        if self.choices is not None:
            return [Choice(c.value, label(c)) for c in self.choices]
        if self.hub_choices:
            return [Choice(d, d) for d in departments]
        return []


INTAKE_FIELDS: tuple[FormField, ...] = (
    FormField("title", "Title", example="Invoice triage assistant"),
    FormField("problem", "Problem", Kind.LONG_TEXT, hint="What is slow, costly or error-prone today, and for whom?"),
    FormField("department", "Department", example="Finance", hub_choices=True, choose="Choose your department"),
    FormField("benefit", "Expected benefit", Kind.LONG_TEXT),
    FormField(
        "success_metric",
        "Success metric",
        hint="The business metric this should move. Set it now: it is how the hub will judge success.",
        example="average handling time down 20% by Q3",
    ),
    FormField(
        "data_sources", "Data sources", Kind.LONG_TEXT, hint="Systems, files or datasets it would use.", optional=True
    ),
    FormField(
        "data_availability",
        "Data availability",
        Kind.DROPDOWN,
        hint="Is the data it would use available today?",
        choices=DataAvailability,
    ),
    FormField("data_sensitivity", "Data sensitivity", Kind.RADIO, choices=Sensitivity),
    FormField("people_affected", "People affected", Kind.RADIO, choices=Affected),
    FormField("autonomy", "Output and autonomy", Kind.RADIO, choices=Autonomy),
    FormField("target_date", "Target date", Kind.DATE, example="2027-03-31", optional=True),
    FormField(
        "links",
        "Links",
        Kind.LONG_TEXT,
        hint="Docs, tickets, prototypes; separate several with spaces or commas.",
        optional=True,
        max_length=2000,  # the model limits each link and their number, not the whole answer
    ),
)
FIELDS: Mapping[str, FormField] = {f.name: f for f in INTAKE_FIELDS}
FIELD_LABELS: Mapping[str, str] = {f.name: f.label for f in INTAKE_FIELDS}

REASON_PROMPTS: dict[Decision, str] = {
    Decision.REJECT: "Why is it rejected?",
    Decision.REQUEST_CHANGES: "What should the submitter change?",
}


@dataclass(frozen=True)
class ReasonForm:
    """A short form that asks why before a use case is closed or reopened, as every surface asks it.

    Slack draws it as a modal whose submit button is the confirmation; the console asks `prompt`, then `confirm`
    as a y/N question when there is one.
    """

    title: str  # "Close #12" (a Slack modal title: at most 24 characters)
    intro: str  # what will happen
    prompt: str  # the question
    hint: str
    submit: str  # the button that carries it out
    confirm: str | None = None
    initial: str = ""  # a reason typed with the command


REASON_HINT = "Kept in its audit trail and shown on its status."
NO_ONE_ELSE = "No other reviewer can take it now: the rest are away, or it is theirs already."


def withdraw_confirm(use_case_id: int, title: str, reviewer: str | None) -> str:
    """The "are you sure?" before an owner takes a use case out of review (Slack's confirm, the console's y/N)."""
    told = f" {reviewer} is told." if reviewer else ""
    return f"Withdraw #{use_case_id} {title} from hub review?{told}"


def close_form(use_case_id: int, title: str, *, ends_review: bool, initial: str = "") -> ReasonForm:
    """Asks why a use case is being closed; the submit confirms it."""
    ends = " The review waiting on it ends, and its reviewer is told." if ends_review else ""
    return ReasonForm(
        title=f"Close #{use_case_id}",
        intro=f"Close #{use_case_id} {title}: its lifecycle stops here, and a hub lead can reopen it.{ends}",
        prompt="Why close it?",
        hint=REASON_HINT,
        submit="Close it",
        confirm=f"Close #{use_case_id} {title}?",
        initial=initial,
    )


def reopen_form(use_case_id: int, title: str, *, back_to_review: bool, initial: str = "") -> ReasonForm:
    """Asks a lead why a use case is being reopened."""
    review = " It goes back to hub review, routed as usual." if back_to_review else ""
    return ReasonForm(
        title=f"Reopen #{use_case_id}",
        intro=f"Reopen #{use_case_id} {title}: it goes back to the stage it was in.{review}",
        prompt="Why reopen it?",
        hint=REASON_HINT + " The owner is told.",
        submit="Reopen",
        initial=initial,
    )


def too_long(max_length: int | None) -> str:
    """The message for an answer over its limit (the model's and the form's limits say it alike)."""
    return f"Please keep this under {max_length} characters."


def friendly(err: Any) -> str:
    """One pydantic error as a sentence a person understands."""
    kind, ctx = err["type"], err.get("ctx", {})
    if kind == "missing":
        return "Please fill this in."
    if kind == "string_too_short":
        return f"Please write at least {ctx.get('min_length')} characters."
    if kind == "string_too_long":
        return too_long(ctx.get("max_length"))
    if kind == "value_error":
        message = str(ctx.get("error", err["msg"]))
        # A message may quote what was typed ('"not" is not a web link'): only its own first letter is capitalised,
        # and one ending in an address ("links start with https://") takes no full stop.
        return message[:1].upper() + message[1:] + ("" if message.endswith((".", "://")) else ".")
    if kind.startswith("date_"):
        return "Please give a date as YYYY-MM-DD, e.g. 2027-03-31."
    if kind == "enum":
        return "Please choose one of the options."
    return "Please check this answer."


def match_department(typed: str, departments: Sequence[str]) -> str | None:
    """The hub's own spelling of the department a person typed, ignoring case and spacing; None if unknown."""
    key = " ".join(typed.split()).casefold()
    return next((d for d in departments if " ".join(d.split()).casefold() == key), None)


def unknown_department(typed: str, departments: Sequence[str]) -> str:
    return f"Unknown department '{typed}'. Choose one of: {', '.join(departments[:15])}."


def _past(value: Any, today: dt.date) -> str | None:
    """The model's message for a target date before `today`; None for no date, a future one or a malformed one."""
    try:
        date = TypeAdapter(dt.date).validate_python(value) if value is not None else None
    except ValidationError:
        return None
    return Submission.model_construct(target_date=date).check_target_date(today)


def parse_submission(
    raw: Mapping[str, Any], *, departments: Sequence[str] = (), today: dt.date | None = None
) -> tuple[Submission | None, dict[str, str]]:
    """A Submission from raw answers (blanks left out), or friendly messages keyed by field name.

    The one place intake answers are checked, whatever surface they came from: `departments` (the hub's,
    when it has some) are matched ignoring case and the hub's spelling is kept; `today` rejects a past
    target date.
    """
    answers = {k: v for k, v in raw.items() if v not in (None, "")}
    errors: dict[str, str] = {}
    typed_department = answers.get("department")
    if departments and isinstance(typed_department, str):
        if found := match_department(typed_department, departments):
            answers["department"] = found
        else:
            errors["department"] = unknown_department(typed_department, departments)
    for field in INTAKE_FIELDS:
        value = answers.get(field.name)
        if field.max_length and isinstance(value, str) and len(value.strip()) > field.max_length:
            errors[field.name] = too_long(field.max_length)
    sub: Submission | None = None
    try:
        sub = Submission.model_validate(answers)
    except ValidationError as exc:
        for err in exc.errors():
            errors.setdefault(str(err["loc"][0]) if err["loc"] else "title", friendly(err))
    if today is not None and "target_date" not in errors and (message := _past(answers.get("target_date"), today)):
        errors["target_date"] = message
    if not errors:
        return sub, {}
    in_form_order = {f.name: errors.pop(f.name) for f in INTAKE_FIELDS if f.name in errors}
    return None, in_form_order | errors


def field_errors(
    raw: Mapping[str, Any], *, departments: Sequence[str] = (), today: dt.date | None = None
) -> dict[str, str]:
    """What is wrong with these answers, as messages keyed by field name; empty when they can be saved."""
    return parse_submission(raw, departments=departments, today=today)[1]


def check_answer(name: str, value: Any, *, today: dt.date, departments: Sequence[str] = ()) -> str | None:
    """The message for one answer on its own, or None when it is fine (for asking field by field)."""
    return field_errors({name: value}, departments=departments, today=today).get(name)
