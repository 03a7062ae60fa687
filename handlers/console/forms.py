"""Prompted forms: the intake modal asked field by field, with its choices numbered and its messages."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any

from handlers.console.render import Rendered
from handlers.console.session import Cancelled, ConsoleSession, EndOfInput
from intake import hub
from intake.errors import FieldErrors
from intake.forms import INTAKE_FIELDS, Draft, FormField, check_answer, parse_submission
from intake.read_models import SubmitResult
from intake.schema import Submission, label

FIELDS = {f.name: f for f in INTAKE_FIELDS}
CLEAR = "-"


def _shown(value: Any) -> str:
    """A pre-filled answer, short enough for a prompt."""
    text = value.value if isinstance(value, StrEnum) else str(value or "")
    text = " ".join(text.split())
    return text if len(text) <= 60 else text[:59] + "…"


def _options(field: FormField, departments: list[str]) -> list[tuple[str, Any]]:
    """(label, value) pairs for a choice field; the department is a choice once the hub has some."""
    if field.choices is not None:
        return [(label(c), c) for c in field.choices]
    if field.name == "department" and departments:
        return [(d, d) for d in departments]
    return []


def _pick(typed: str, options: list[tuple[str, Any]]) -> Any:
    """The option a person meant: its number, its value, or its label (any case); else what they typed."""
    if typed.isdigit() and 1 <= int(typed) <= len(options):
        return options[int(typed) - 1][1]
    wanted = typed.casefold()
    for text, value in options:
        raw = value.value if isinstance(value, StrEnum) else str(value)
        if wanted in (text.casefold(), raw.casefold(), raw.replace("_", " ").casefold()):
            return value
    return typed


def _error(session: ConsoleSession, field: FormField, value: Any, departments: list[str]) -> str | None:
    """What is wrong with one answer, in the intake modal's words, or None."""
    if field.name == "department" and departments and value not in departments:
        if value in ("", None):
            return "Please fill this in."
        return f"Unknown department '{value}'. Choose one of: {', '.join(departments[:15])}."
    if field.choices is not None and value not in (None, "") and not isinstance(value, field.choices):
        return "Please choose one of the options."
    return check_answer(field.name, value, today=session.core.now().date())


def ask_field(
    session: ConsoleSession, field: FormField, initial: Any, departments: list[str], error: str | None = None
) -> Any:
    """Ask one question until the answer is valid; Enter keeps `initial`, `-` clears an optional answer."""
    options = _options(field, departments)
    default = next((str(i) for i, (_, v) in enumerate(options, 1) if v == initial), None) if options else None
    head = field.label + (" (optional)" if field.optional else "")
    if field.hint:
        session.screen.write(f"  ({field.hint})")
    if options:
        session.screen.write(head if head.endswith("?") else f"{head}:")
        session.screen.write("\n".join(f"  [{i}] {text}" for i, (text, _) in enumerate(options, 1)))
        prompt = "Choose 1" + (f"-{len(options)}" if len(options) > 1 else "") + (f" [{default}]" if default else "")
        prompt += ": "
    else:
        shown = _shown(initial)
        suggestion = f" [{shown}]" if shown else (f" (e.g. {field.example})" if field.example else "")
        prompt = f"{head}{suggestion}: "
    while True:
        if error:
            session.screen.write(f"  ! {error}")
        typed = session.ask(prompt)
        if typed == CLEAR and field.optional:
            value: Any = ""
        elif not typed:
            value = initial if initial not in (None, "") else ""
        else:
            value = _pick(typed, options) if options else typed
        error = _error(session, field, value, departments)
        if error is None:
            return value


def fill_intake(
    session: ConsoleSession,
    draft: Draft,
    save: Callable[[Submission], SubmitResult],
    *,
    heading: str,
    note: list[str] | None = None,
) -> SubmitResult | None:
    """Ask the intake questions, then save; answers the hub refuses are asked again with its message."""
    departments = session.core.read(hub.list_departments)
    intro = "Enter keeps the answer in [brackets], - clears an optional one, /cancel stops."
    session.reply(Rendered((heading, *(note or []), intro)))
    try:
        answers = {f.name: ask_field(session, f, getattr(draft, f.name), departments) for f in INTAKE_FIELDS}
        while True:
            sub, errors = parse_submission(answers)
            if sub is not None:
                try:
                    return save(sub)
                except FieldErrors as exc:
                    errors = exc.errors
            for name, message in errors.items():
                field = FIELDS.get(name, FIELDS["title"])
                answers[field.name] = ask_field(session, field, answers.get(field.name), departments, message)
    except Cancelled:
        session.reply("Not saved.")
        return None
    except EndOfInput:
        session.reply("Not saved: the input ended before the form was finished.")
        raise
