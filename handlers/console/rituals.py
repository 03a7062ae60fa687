"""The rituals in the console: the retro form asked question by question, and answers to showcase invitations."""

from __future__ import annotations

from typing import Any

from bot.conversation import ritual_answers
from handlers.console.admin import render
from handlers.console.forms import prompt_lines
from handlers.console.people import console_ref
from handlers.console.render import Button, Rendered
from handlers.console.session import Cancelled, ConsoleSession, EndOfInput
from intake import retros
from intake.actions import Action
from intake.errors import FieldErrors
from intake.forms import FormField


def _ask(session: ConsoleSession, field: FormField, initial: Any, error: str | None = None) -> Any:
    """One question of the retro, asked until its answer would be accepted."""
    options = field.options()
    lines, prompt = prompt_lines(field, initial, [])
    if lines:
        session.screen.write("\n".join(lines))
    while True:
        if error:
            session.screen.write(f"  ! {error}")
        typed = session.ask(prompt)
        value = typed or (initial or "")
        if options and typed:
            value = next(
                (
                    c.value
                    for i, c in enumerate(options, 1)
                    if typed in (str(i), c.value) or typed.casefold() == c.label.casefold()
                ),
                typed,
            )
        error = retros.check_retro_answer(field.name, value)
        if error is None:
            return value


def write_retro(session: ConsoleSession, form: retros.RetroForm) -> None:
    """Ask the retro's questions, then save it as a lesson; /cancel stops with nothing saved."""
    session.reply(Rendered((form.intro, "/cancel stops; nothing is saved until the last answer.")))
    try:
        answers = {f.name: _ask(session, f, form.initial.get(f.name)) for f in form.fields}
        fields = {f.name: f for f in form.fields}
        while True:
            try:
                said = ritual_answers.save_retro(
                    session.core, session.me(), form.use_case_id, retros.form_errors(answers)
                )
            except FieldErrors as exc:
                for name, message in exc.errors.items():
                    answers[name] = _ask(session, fields[name], answers.get(name), message)
                continue
            session.reply(render(said, session.zone()))
            return
    except Cancelled:
        session.reply("Not saved.")
    except EndOfInput:
        session.reply("Not saved: the input ended before the retro was finished.")


def answer_invitation(session: ConsoleSession, button: Button) -> None:
    """Yes / Not this time, or a colleague asked for by name to present instead."""
    assert button.other is not None
    actor = session.me()
    if button.action is Action.NOMINATE:
        typed = session.ask("Who should present instead? (@name) ").strip().lstrip("@")
        if not typed:
            session.reply("Nobody nominated.")
            return
        said = ritual_answers.nominate(session.core, actor, button.other, console_ref(typed))
    else:
        said = ritual_answers.answer_invitation(session.core, actor, button.other, button.action is Action.PRESENT)
    session.reply(render(said, session.zone()))
