"""`/usecase` in the console: intake, list, status, stage, edit, close, reopen, withdraw and help, as in Slack."""

from __future__ import annotations

from bot.conversation import grammar as g
from bot.conversation.answers import (
    AskReason,
    AskRetro,
    DraftLater,
    Form,
    Said,
    Status,
    UseCaseList,
    answer,
    carry_out,
    draft_now,
)
from handlers.console.admin import MENTIONS, render
from handlers.console.forms import fill_intake
from handlers.console.render import Rendered, quoted
from handlers.console.replies import render_list, render_status, render_submitted
from handlers.console.rituals import write_retro
from handlers.console.session import ConsoleSession
from intake import editing, queries, submission
from intake.actions import Viewer
from intake.closing import REASON_NEEDED
from intake.editing import EditTarget
from intake.errors import FieldErrors
from intake.forms import Draft

YES = {"y", "yes"}


def submit(session: ConsoleSession, draft: Draft, questions: list[str] | None = None) -> None:
    """Ask the intake form (pre-filled, with what is worth adding) and save the use case as the current person."""
    actor = session.me()
    note = [f"Worth adding: {q}" for q in questions or []]
    result = fill_intake(
        session,
        draft,
        lambda sub: session.core.run(submission.submit_use_case, actor, sub),
        heading="New AI use case",
        note=note or None,
    )
    if result is not None:
        session.reply(render_submitted(result))


def edit(session: ConsoleSession, target: EditTarget) -> None:
    """The intake form pre-filled with a use case: saved as an edit, or (changes were asked) resubmitted."""
    actor = session.me()
    uc = target.use_case
    note = None
    if target.resubmit:
        reviewer = uc.review.decided_by.name if uc.review and uc.review.decided_by else "The reviewer"
        note = [f"{reviewer} asked for changes:", *quoted(uc.review.reason if uc.review else "")]
        service = submission.resubmit_use_case
    else:
        service = editing.edit_use_case
    result = fill_intake(
        session,
        Draft.of_answers(uc.answers()),
        lambda sub: session.core.run(service, actor, uc.id, sub),
        heading=f"Edit use case #{uc.id}",
        note=note,
    )
    if result is not None:
        session.reply(render_submitted(result))


def ask_why(session: ConsoleSession, asked: AskReason) -> None:
    """Ask the reason form's question (and its confirmation, once), then carry it out; /cancel stops."""
    form = asked.form
    session.reply(Rendered((form.intro, f"{form.hint} /cancel stops.")))
    error, confirmed = None, form.confirm is None
    while True:
        if error:
            session.screen.write(f"  ! {error}")
        typed = session.ask(f"{form.prompt} " + (f"[{form.initial}] " if form.initial else ""))
        reason = typed or form.initial
        if not reason:
            error = REASON_NEEDED
            continue
        if not confirmed:
            if session.ask(f"{form.confirm} [y/N] ").casefold() not in YES:
                session.reply("Nothing changed.")
                return
            confirmed = True
        try:
            said = carry_out(session.core, session.me(), asked.action, asked.use_case_id, reason)
        except FieldErrors as exc:
            error = next(iter(exc.errors.values()))
            continue
        session.reply(render(said, session.zone()))
        return


def show_status(session: ConsoleSession, use_case_id: int) -> None:
    """Everything about one use case, with the buttons this person may click on it."""
    actor = session.me()
    uc = session.core.read(queries.get_use_case, use_case_id)
    session.reply(render_status(uc, session.zone(), viewer=Viewer.of(actor)))


def handle_usecase_command(session: ConsoleSession, text: str) -> None:
    """Open the intake form, or answer list, status, stage, edit, close, reopen, withdraw and help."""
    result = answer(session.core, session.me(), g.parse(g.USECASE, text, MENTIONS))
    if isinstance(result, Form):
        if result.edit is not None:
            edit(session, result.edit)
        else:
            submit(session, result.draft)
    elif isinstance(result, AskReason):
        ask_why(session, result)
    elif isinstance(result, AskRetro):
        write_retro(session, result.form)
    elif isinstance(result, DraftLater):  # no deadline to answer by here: drafted at once
        draft, questions, _ = draft_now(session.core, session.me(), result.text)
        submit(session, draft, questions)
    elif isinstance(result, UseCaseList):
        session.reply(render_list(result.items, result.title, render(result.empty, session.zone())))
    elif isinstance(result, Status):
        show_status(session, result.use_case.id)
    elif isinstance(result, Said):
        session.reply(render(result, session.zone()))
