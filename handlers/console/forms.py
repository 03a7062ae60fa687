"""Prompted forms: the intake form spec asked question by question, with its choices numbered and its messages."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any

from handlers.console.render import Rendered
from handlers.console.session import Cancelled, ConsoleSession, EndOfInput
from intake import hub
from intake.errors import FieldErrors
from intake.forms import FIELDS, INTAKE_FIELDS, Choice, Draft, FormField, check_answer, parse_submission
from intake.read_models import SubmitResult
from intake.schema import Submission

CLEAR = "-"


def _shown(value: Any) -> str:
    """A pre-filled answer, short enough for a prompt."""
    text = value.value if isinstance(value, StrEnum) else str(value or "")
    text = " ".join(text.split())
    return text if len(text) <= 60 else text[:59] + "…"


def _raw(value: Any) -> str:
    return value.value if isinstance(value, StrEnum) else str(value or "")


def _pick(typed: str, options: list[Choice]) -> str:
    """The option a person meant: its number, its value, or its label (any case); else what they typed."""
    if typed.isdigit() and 1 <= int(typed) <= len(options):
        return options[int(typed) - 1].value
    wanted = typed.casefold()
    for option in options:
        if wanted in (option.label.casefold(), option.value.casefold(), option.value.replace("_", " ").casefold()):
            return option.value
    return typed


def prompt_lines(field: FormField, initial: Any, departments: list[str]) -> tuple[list[str], str]:
    """What the console shows before one question (hint, choices) and the prompt itself, from the form spec."""
    options = field.options(departments)
    head = field.label + (" (optional)" if field.optional else "")
    lines = [f"  ({field.hint})"] if field.hint else []
    if options:
        default = next((str(i) for i, c in enumerate(options, 1) if c.value == _raw(initial)), None)
        lines.append(head if head.endswith("?") else f"{head}:")
        lines += [f"  [{i}] {c.label}" for i, c in enumerate(options, 1)]
        prompt = "Choose 1" + (f"-{len(options)}" if len(options) > 1 else "") + (f" [{default}]" if default else "")
        return lines, prompt + ": "
    shown = _shown(initial)
    suggestion = f" [{shown}]" if shown else (f" ({field.placeholder})" if field.placeholder else "")
    return lines, f"{head}{suggestion}: "


def ask_field(
    session: ConsoleSession, field: FormField, initial: Any, departments: list[str], error: str | None = None
) -> Any:
    """Ask one question until the answer is valid; Enter keeps `initial`, `-` clears an optional answer."""
    options = field.options(departments)
    lines, prompt = prompt_lines(field, initial, departments)
    if lines:
        session.screen.write("\n".join(lines))
    today = session.core.now().date()
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
        error = check_answer(field.name, value, today=today, departments=departments)
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
            sub, errors = parse_submission(answers, departments=departments, today=session.core.now().date())
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
